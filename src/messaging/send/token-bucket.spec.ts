import { TokenBucket } from './token-bucket';

/**
 * A virtual monotonic clock: `sleep(ms)` records the request and moves the clock forward
 * by exactly that much, so no test waits in real time.
 */
class VirtualTime {
  nowMs = 1_000;
  readonly sleeps: number[] = [];
  /** Most callers ever asleep at the same time. */
  maxSleeping = 0;
  private sleeping = 0;
  readonly monotonicMs = (): number => this.nowMs;
  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.sleeping += 1;
    this.maxSleeping = Math.max(this.maxSleeping, this.sleeping);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.nowMs += ms;
    this.sleeping -= 1;
  };
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** Starts `n` takes at once; returns the virtual time at which each one was granted, in call order. */
async function grantTimes(bucket: TokenBucket, time: VirtualTime, n: number): Promise<number[]> {
  const granted: number[] = new Array<number>(n);
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      bucket.take().then(() => {
        granted[i] = time.nowMs - 1_000;
      }),
    ),
  );
  return granted;
}

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces at the rate', async () => {
    const time = new VirtualTime();
    const bucket = new TokenBucket(2, 3, time.monotonicMs, time.sleep);
    expect(await grantTimes(bucket, time, 7)).toEqual([0, 0, 0, 500, 1000, 1500, 2000]);
    expect(time.sleeps).toEqual([500, 500, 500, 500]);
  });

  it('respects the rate over a long run: n sends beyond the burst take (n / rate) seconds', async () => {
    const time = new VirtualTime();
    const bucket = new TokenBucket(50, 1, time.monotonicMs, time.sleep);
    const granted = await grantTimes(bucket, time, 501);
    expect(granted[0]).toBe(0);
    expect(granted.at(-1)).toBe(10_000);
    for (let i = 1; i < granted.length; i += 1) expect(granted[i]! - granted[i - 1]!).toBe(20);
  });

  it('paces a fractional rate without drift: waits round up to whole milliseconds, never early', async () => {
    const time = new VirtualTime();
    const bucket = new TokenBucket(3, 3, time.monotonicMs, time.sleep);
    const granted = await grantTimes(bucket, time, 3 + 30);
    expect(granted.slice(0, 3)).toEqual([0, 0, 0]);
    for (let i = 3; i < granted.length; i += 1) {
      expect(granted[i]! - granted[i - 1]!).toBeGreaterThanOrEqual(333);
      expect(granted[i]! - granted[i - 1]!).toBeLessThanOrEqual(334);
    }
    // 30 sends at 3/s: 10 s, give or take the rounding of single waits.
    expect(granted.at(-1)).toBeGreaterThanOrEqual(10_000);
    expect(granted.at(-1)).toBeLessThanOrEqual(10_030);
  });

  it('defaults the burst to the rate rounded up', async () => {
    const time = new VirtualTime();
    const bucket = new TokenBucket(2.5, undefined, time.monotonicMs, time.sleep);
    expect((await grantTimes(bucket, time, 4)).slice(0, 3)).toEqual([0, 0, 0]);
    expect(time.sleeps).toHaveLength(1);
  });

  it('refills while idle, but never beyond the burst', async () => {
    const time = new VirtualTime();
    const bucket = new TokenBucket(10, 5, time.monotonicMs, time.sleep);
    await grantTimes(bucket, time, 5);
    expect(time.sleeps).toEqual([]);
    time.advance(60_000); // a minute idle: 600 tokens' worth, capped at 5
    const start = time.nowMs;
    await grantTimes(bucket, time, 6);
    expect(time.sleeps).toEqual([100]);
    expect(time.nowMs - start).toBe(100);
  });

  it('credits part of a token earned while idle', async () => {
    const time = new VirtualTime();
    const bucket = new TokenBucket(1, 1, time.monotonicMs, time.sleep);
    await bucket.take();
    time.advance(400); // 0.4 token earned
    await bucket.take();
    expect(time.sleeps).toEqual([600]);
  });

  it('serves callers in the order they asked (FIFO), also across waits', async () => {
    const time = new VirtualTime();
    const bucket = new TokenBucket(4, 2, time.monotonicMs, time.sleep);
    const order: number[] = [];
    const takes = Array.from({ length: 10 }, (_, i) => bucket.take().then(() => order.push(i)));
    // A caller arriving later queues behind everyone already waiting.
    const late = takes[3]!.then(() => bucket.take().then(() => order.push(99)));
    await Promise.all([...takes, late]);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99]);
    // One waiter at a time: nobody overtakes a caller that is already waiting for a token.
    expect(time.maxSleeping).toBe(1);
  });
});
