import {
  type BackoffPolicy,
  classifyHttpStatus,
  computeRetryDelay,
  DEFAULT_BACKOFF,
  parseRetryAfter,
  SendFailure,
} from './retry-policy.util';

const POLICY: BackoffPolicy = { maxAttempts: 5, baseMs: 1000, maxMs: 10_000 };
const NOW = new Date('2026-11-18T02:00:00Z');

/** A deterministic stand-in for Math.random (a small LCG), values in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('computeRetryDelay', () => {
  it('doubles the base per attempt, jittered over the upper half [exp/2, exp]', () => {
    const expected: [number, number, number][] = [
      // attempt, lowest (random 0), highest (random -> 1)
      [1, 500, 1000],
      [2, 1000, 2000],
      [3, 2000, 4000],
      [4, 4000, 8000],
    ];
    for (const [attempt, low, high] of expected) {
      expect(computeRetryDelay(attempt, POLICY, undefined, () => 0)).toBe(low);
      expect(computeRetryDelay(attempt, POLICY, undefined, () => 0.999_999_9)).toBe(high);
      expect(computeRetryDelay(attempt, POLICY, undefined, () => 0.5)).toBe((low + high) / 2);
    }
  });

  it('caps the delay at maxMs however many attempts failed', () => {
    for (const attempt of [5, 6, 10, 50, 2000]) {
      expect(computeRetryDelay(attempt, POLICY, undefined, () => 0)).toBe(5000);
      expect(computeRetryDelay(attempt, POLICY, undefined, () => 0.999_999_9)).toBe(10_000);
    }
  });

  it('stays within [exp/2, min(cap, exp)] for any random value', () => {
    const random = seededRandom(42);
    for (let attempt = 1; attempt <= 12; attempt += 1) {
      const exp = Math.min(POLICY.maxMs, POLICY.baseMs * 2 ** (attempt - 1));
      for (let i = 0; i < 200; i += 1) {
        const delay = computeRetryDelay(attempt, POLICY, undefined, random);
        expect(delay).toBeGreaterThanOrEqual(exp / 2);
        expect(delay).toBeLessThanOrEqual(exp);
        expect(Number.isInteger(delay)).toBe(true);
      }
    }
  });

  it('spreads retries out (jitter), not all on the same instant', () => {
    const random = seededRandom(7);
    const delays = new Set(Array.from({ length: 50 }, () => computeRetryDelay(3, POLICY, undefined, random)));
    expect(delays.size).toBeGreaterThan(40);
  });

  it('treats attempt 0 or below as the first attempt', () => {
    expect(computeRetryDelay(0, POLICY, undefined, () => 0)).toBe(500);
    expect(computeRetryDelay(-3, POLICY, undefined, () => 0.999_999_9)).toBe(1000);
  });

  it('never retries before a Retry-After: it is a floor, even above the cap', () => {
    expect(computeRetryDelay(1, POLICY, 120_000, () => 0.999_999_9)).toBe(120_000);
    expect(computeRetryDelay(10, POLICY, 60 * 60_000, () => 0)).toBe(60 * 60_000);
  });

  it('keeps the backoff when a Retry-After is shorter or zero', () => {
    expect(computeRetryDelay(3, POLICY, 1500, () => 0)).toBe(2000);
    expect(computeRetryDelay(3, POLICY, 0, () => 0)).toBe(2000);
  });

  it('uses Math.random by default and the documented defaults', () => {
    const delay = computeRetryDelay(1, DEFAULT_BACKOFF, undefined);
    expect(delay).toBeGreaterThanOrEqual(15_000);
    expect(delay).toBeLessThanOrEqual(30_000);
    expect(computeRetryDelay(99, DEFAULT_BACKOFF, undefined, () => 0.999_999_9)).toBe(60 * 60_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds, integer or fractional, string or number', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1500);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(30, NOW)).toBe(30_000);
  });

  it('reads an HTTP date relative to now', () => {
    expect(parseRetryAfter('Wed, 18 Nov 2026 02:01:30 GMT', NOW)).toBe(90_000);
  });

  it('turns an HTTP date already past into 0, never a negative delay', () => {
    expect(parseRetryAfter('Wed, 18 Nov 2026 01:59:00 GMT', NOW)).toBe(0);
  });

  it('takes the first value of a repeated header', () => {
    expect(parseRetryAfter(['5', '60'], NOW)).toBe(5000);
  });

  it('returns undefined when absent or unusable', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter([], NOW)).toBeUndefined();
    expect(parseRetryAfter({ seconds: 5 }, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
  });
});

describe('classifyHttpStatus', () => {
  it('retries rate limits, request timeouts and server errors', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(classifyHttpStatus(status)).toBe('retry');
  });

  it('dead-letters other client errors at once', () => {
    for (const status of [400, 401, 403, 404, 413, 422]) expect(classifyHttpStatus(status)).toBe('permanent');
  });
});

describe('SendFailure', () => {
  it('is an Error carrying its kind, message and Retry-After', () => {
    const failure = new SendFailure('retry', 'sendgrid 429: too many requests', 30_000);
    expect(failure).toBeInstanceOf(Error);
    expect(failure.name).toBe('SendFailure');
    expect(failure.message).toBe('sendgrid 429: too many requests');
    expect(failure.kind).toBe('retry');
    expect(failure.retryAfterMs).toBe(30_000);
    expect(new SendFailure('unknown', 'timeout').retryAfterMs).toBeUndefined();
  });
});
