import { LinkBurstTracker } from './link-burst.tracker';

describe('LinkBurstTracker', () => {
  it('counts distinct links of one message inside the window only', () => {
    const tracker = new LinkBurstTracker(10_000);
    const t0 = new Date('2026-11-01T00:00:00Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    expect(tracker.hit('m1', 0, at(0))).toBe(1);
    expect(tracker.hit('m1', 0, at(1))).toBe(1);
    expect(tracker.hit('m1', 1, at(2))).toBe(2);
    expect(tracker.hit('m2', 0, at(2))).toBe(1);
    expect(tracker.hit('m1', 2, at(3))).toBe(3);
    expect(tracker.hit('m1', 3, at(30))).toBe(1);
  });
});
