import { ManualClock } from '../common/clock';
import { TokenThrottle } from './token-throttle';

const START = new Date('2026-11-20T09:00:00.000Z');

describe('TokenThrottle', () => {
  it('records only the limit of 1,000 hits a minute on one token', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ limit: 20, windowMs: 60_000 });
    let recorded = 0;
    for (let i = 0; i < 1_000; i++) {
      if (throttle.allow('pixel-token', clock.now())) recorded++;
      clock.advance(59); // 1,000 hits spread over 59 seconds
    }
    expect(recorded).toBe(20);
    expect(throttle.stats()).toEqual({ keys: 1, allowed: 20, throttled: 980, evicted: 0 });
  });

  it('leaves other tokens unaffected', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ limit: 20 });
    for (let i = 0; i < 1_000; i++) throttle.allow('hot', clock.now());
    expect(throttle.allow('hot', clock.now())).toBe(false);
    for (let i = 0; i < 20; i++) expect(throttle.allow('quiet', clock.now())).toBe(true);
    expect(throttle.allow('quiet', clock.now())).toBe(false);
    expect(throttle.allow('another', clock.now())).toBe(true);
  });

  it('rolls the window over a full window after its first hit', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ limit: 3, windowMs: 60_000 });
    expect([1, 2, 3, 4].map(() => throttle.allow('t', clock.now()))).toEqual([true, true, true, false]);
    clock.advance(59_999);
    expect(throttle.allow('t', clock.now())).toBe(false);
    clock.advance(1);
    expect([1, 2, 3, 4].map(() => throttle.allow('t', clock.now()))).toEqual([true, true, true, false]);
  });

  it('records a steady flood at the limit per window', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ limit: 20, windowMs: 60_000 });
    let recorded = 0;
    // 1,000 hits a minute for 10 minutes.
    for (let i = 0; i < 10_000; i++) {
      if (throttle.allow('t', clock.now())) recorded++;
      clock.advance(60);
    }
    expect(recorded).toBe(200);
  });

  it('forgets finished windows as time passes', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ windowMs: 60_000 });
    for (let i = 0; i < 1_000; i++) throttle.allow(`token-${i}`, clock.now());
    expect(throttle.stats().keys).toBe(1_000);
    clock.advance(30_000);
    throttle.allow('late', clock.now());
    expect(throttle.stats().keys).toBe(1_001);
    clock.advance(30_000);
    throttle.allow('later', clock.now());
    expect(throttle.stats().keys).toBe(2);
    clock.advance(60_000);
    throttle.allow('latest', clock.now());
    expect(throttle.stats().keys).toBe(1);
  });

  it('holds the memory bound under a flood of distinct tokens, evicting the oldest window', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ limit: 2, maxKeys: 1_000 });
    for (let i = 0; i < 50_000; i++) {
      throttle.allow(`token-${i}`, clock.now());
      if (i % 100 === 0) clock.advance(1);
    }
    expect(throttle.stats().keys).toBe(1_000);
    expect(throttle.stats().evicted).toBe(49_000);
    // The newest keys are still limited; the evicted ones start afresh.
    expect(throttle.allow('token-49999', clock.now())).toBe(true);
    expect(throttle.allow('token-49999', clock.now())).toBe(false);
    expect(throttle.allow('token-0', clock.now())).toBe(true);
    expect(throttle.stats().keys).toBe(1_000);
  });

  it('moves a restarted window to the back of the eviction order', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ limit: 1, windowMs: 1_000, maxKeys: 2 });
    throttle.allow('a', clock.now());
    clock.advance(500);
    throttle.allow('b', clock.now());
    clock.advance(600); // a's window is over, b's is not
    expect(throttle.allow('a', clock.now())).toBe(true); // swept, starts a new window
    expect(throttle.allow('c', clock.now())).toBe(true); // evicts b, the oldest live window
    expect(throttle.allow('a', clock.now())).toBe(false);
    expect(throttle.stats()).toMatchObject({ keys: 2, evicted: 1 });
  });

  it('tolerates a clock that steps back and refuses an invalid date', () => {
    const clock = new ManualClock(START);
    const throttle = new TokenThrottle({ limit: 1 });
    expect(throttle.allow('t', clock.now())).toBe(true);
    clock.advance(-10_000);
    expect(throttle.allow('t', clock.now())).toBe(false);
    expect(throttle.allow('t', new Date(Number.NaN))).toBe(false);
  });

  it('uses 20 per minute and 100,000 keys by default, and refuses unusable options', () => {
    const throttle = new TokenThrottle();
    const results = Array.from({ length: 21 }, () => throttle.allow('t', START));
    expect(results.filter(Boolean)).toHaveLength(20);
    expect(() => new TokenThrottle({ limit: 0 })).toThrow(/limit/);
    expect(() => new TokenThrottle({ windowMs: 0.5 })).toThrow(/windowMs/);
    expect(() => new TokenThrottle({ maxKeys: -1 })).toThrow(/maxKeys/);
  });
});
