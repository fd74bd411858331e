import { HitBuffer, type HitBufferOptions, type HitDropReason } from './hit-buffer';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A stand-in database: records each batch it accepted, can be told to fail the next
 * calls or to hold calls open, and checks it is never called concurrently.
 */
class FakeStore {
  readonly accepted: number[][] = [];
  readonly calls: number[][] = [];
  failNext = 0;
  hold = false;
  readonly pending: Deferred[] = [];
  active = 0;
  maxActive = 0;

  readonly writer = async (batch: number[]): Promise<void> => {
    this.calls.push([...batch]);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.hold) {
        const gate = deferred();
        this.pending.push(gate);
        await gate.promise;
      }
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error('database unavailable');
      }
      this.accepted.push([...batch]);
    } finally {
      this.active--;
    }
  };

  get written(): number[] {
    return this.accepted.flat();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('HitBuffer', () => {
  let store: FakeStore;
  let drops: [number, HitDropReason][];
  let writeErrors: unknown[];
  const buffers: HitBuffer<number>[] = [];

  const make = (options: Partial<HitBufferOptions<number>> = {}) => {
    const buffer = new HitBuffer<number>({
      writer: store.writer,
      maxItems: 100,
      flushSize: 10,
      flushIntervalMs: 1_000,
      retryInitialMs: 100,
      retryMaxMs: 1_000,
      onDrop: (count, reason) => drops.push([count, reason]),
      onWriteError: (error) => writeErrors.push(error),
      ...options,
    });
    buffers.push(buffer);
    return buffer;
  };

  /** Lets pending promise callbacks run without moving the clock. */
  const settle = () => jest.advanceTimersByTimeAsync(0);

  beforeEach(() => {
    jest.useFakeTimers();
    store = new FakeStore();
    drops = [];
    writeErrors = [];
  });

  afterEach(async () => {
    store.hold = false;
    for (const gate of store.pending) gate.resolve();
    store.failNext = 0;
    const closing = Promise.all(buffers.splice(0).map((b) => b.close()));
    await jest.runAllTimersAsync();
    await closing;
    jest.useRealTimers();
  });

  it('flushes as soon as flushSize items are buffered', async () => {
    const buffer = make({ flushSize: 3 });
    expect(buffer.push(1)).toBe(true);
    expect(buffer.push(2)).toBe(true);
    await settle();
    expect(store.calls).toEqual([]);
    buffer.push(3);
    await settle();
    expect(store.accepted).toEqual([[1, 2, 3]]);
    expect(buffer.stats()).toEqual({ buffered: 0, bufferedBytes: 0, dropped: 0, written: 3, failedFlushes: 0 });
  });

  it('keeps writing batches while flushSize or more items wait', async () => {
    const buffer = make({ flushSize: 3 });
    store.hold = true;
    range(1, 3).forEach((n) => buffer.push(n));
    range(4, 10).forEach((n) => buffer.push(n));
    store.hold = false;
    store.pending.shift()?.resolve();
    await settle();
    expect(store.accepted).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    // The last item is below flushSize and waits for the timer.
    await jest.advanceTimersByTimeAsync(1_000);
    expect(store.accepted.at(-1)).toEqual([10]);
  });

  it('flushes on the timer when fewer items arrive, and keeps no timer while idle', async () => {
    const buffer = make();
    expect(jest.getTimerCount()).toBe(0);
    buffer.push(1);
    buffer.push(2);
    expect(jest.getTimerCount()).toBe(1);
    await jest.advanceTimersByTimeAsync(999);
    expect(store.calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(store.accepted).toEqual([[1, 2]]);
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(store.calls).toHaveLength(1);
  });

  it('measures the interval from the first waiting item, not from each push', async () => {
    const buffer = make();
    buffer.push(1);
    await jest.advanceTimersByTimeAsync(600);
    buffer.push(2);
    await jest.advanceTimersByTimeAsync(400);
    expect(store.accepted).toEqual([[1, 2]]);
  });

  it('refuses items when full, counts them, and reports them once per tick', async () => {
    const buffer = make({ maxItems: 5, flushSize: 100 });
    const results = range(1, 8).map((n) => buffer.push(n));
    expect(results).toEqual([true, true, true, true, true, false, false, false]);
    expect(buffer.stats()).toMatchObject({ buffered: 5, dropped: 3 });
    expect(drops).toEqual([]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(drops).toEqual([[3, 'full']]);
    expect(store.accepted).toEqual([[1, 2, 3, 4, 5]]);
    expect(buffer.push(9)).toBe(true);
  });

  it('refuses items past maxBytes even below maxItems, and takes them again once written', async () => {
    // Each item's size is its value: a few large items fill the buffer.
    const buffer = make({ maxItems: 100, maxBytes: 1_000, sizeOf: (n) => n, flushSize: 100 });
    expect([400, 500, 200, 50, 50].map((n) => buffer.push(n))).toEqual([true, true, false, true, true]);
    expect(buffer.stats()).toMatchObject({ buffered: 4, bufferedBytes: 1_000, dropped: 1 });
    await jest.advanceTimersByTimeAsync(1_000);
    expect(drops).toEqual([[1, 'full']]);
    expect(store.accepted).toEqual([[400, 500, 50, 50]]);
    expect(buffer.stats()).toMatchObject({ buffered: 0, bufferedBytes: 0 });
    expect(buffer.push(900)).toBe(true);
  });

  it('drops the oldest items when a returned batch no longer fits in maxBytes', async () => {
    const buffer = make({ maxItems: 100, maxBytes: 1_000, sizeOf: (n) => n, flushSize: 2 });
    store.hold = true;
    buffer.push(300);
    buffer.push(301); // write of [300, 301] starts and hangs
    await settle();
    expect([400, 401].map((n) => buffer.push(n))).toEqual([true, true]);
    store.hold = false;
    store.failNext = 1;
    store.pending.shift()?.resolve();
    await settle();
    // 300 + 301 + 400 + 401 = 1,402 bytes: the oldest two go.
    expect(drops).toEqual([[2, 'overflow']]);
    expect(buffer.stats()).toMatchObject({ buffered: 2, bufferedBytes: 801 });
    await buffer.close();
    expect(store.written).toEqual([400, 401]);
  });

  it('never throws from push, even with throwing hooks and a throwing writer', async () => {
    const buffer = make({
      maxItems: 1,
      flushSize: 1,
      writer: () => {
        throw new Error('synchronous failure');
      },
      onDrop: () => {
        throw new Error('bad hook');
      },
      onWriteError: () => {
        throw new Error('bad hook');
      },
    });
    expect(() => range(1, 5).forEach((n) => buffer.push(n))).not.toThrow();
    await settle();
    expect(buffer.stats().failedFlushes).toBe(1);
    await expect(buffer.flush()).resolves.toBeUndefined();
  });

  it('puts a failed batch back in front and retries it after a backoff', async () => {
    const buffer = make({ flushSize: 3 });
    store.failNext = 1;
    range(1, 3).forEach((n) => buffer.push(n));
    await settle();
    expect(store.calls).toEqual([[1, 2, 3]]);
    expect(writeErrors).toHaveLength(1);
    expect(buffer.stats()).toEqual({ buffered: 3, bufferedBytes: 0, dropped: 0, written: 0, failedFlushes: 1 });

    // During the backoff, reaching flushSize again does not hammer the database.
    range(4, 6).forEach((n) => buffer.push(n));
    await jest.advanceTimersByTimeAsync(99);
    expect(store.calls).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(1);
    expect(store.accepted[0]).toEqual([1, 2, 3]);
    await settle();
    expect(store.written).toEqual(range(1, 6));
    expect(buffer.stats()).toEqual({ buffered: 0, bufferedBytes: 0, dropped: 0, written: 6, failedFlushes: 1 });
  });

  it('doubles the backoff per consecutive failure up to the cap', async () => {
    const buffer = make({ flushSize: 1, retryInitialMs: 100, retryMaxMs: 300 });
    store.failNext = 4;
    buffer.push(1);
    await settle();
    const callTimes: number[] = [];
    for (let t = 0; t < 1_000; t += 10) {
      const before = store.calls.length;
      await jest.advanceTimersByTimeAsync(10);
      if (store.calls.length > before) callTimes.push(t + 10);
    }
    // Retries after 100, then 200 more, then 300 (capped), then 300 again.
    expect(callTimes).toEqual([100, 300, 600, 900]);
    expect(store.accepted).toEqual([[1]]);
  });

  it('drops the oldest items when a returned batch no longer fits', async () => {
    const buffer = make({ maxItems: 4, flushSize: 2 });
    store.hold = true;
    buffer.push(1);
    buffer.push(2); // write of [1, 2] starts and hangs
    await settle();
    expect(range(3, 7).map((n) => buffer.push(n))).toEqual([true, true, true, true, false]);
    expect(buffer.stats().buffered).toBe(6);
    store.hold = false;
    store.failNext = 1;
    store.pending.shift()?.resolve();
    await settle();
    expect(drops).toEqual([
      [1, 'full'],
      [2, 'overflow'],
    ]);
    expect(buffer.stats()).toMatchObject({ buffered: 4, dropped: 3 });
    await buffer.close();
    expect(store.written).toEqual([3, 4, 5, 6]);
  });

  it('never calls the writer concurrently; items pushed during a write go to the next batch', async () => {
    const buffer = make({ flushSize: 2, maxBatchSize: 2 });
    store.hold = true;
    buffer.push(1);
    buffer.push(2);
    buffer.push(3);
    const flushes = [buffer.flush(), buffer.flush(), buffer.flush()];
    buffer.push(4);
    buffer.push(5);
    await settle();
    expect(store.calls).toEqual([[1, 2]]);
    while (store.pending.length > 0 || store.active > 0) {
      store.pending.shift()?.resolve();
      await settle();
    }
    await Promise.all(flushes);
    store.hold = false;
    await buffer.close();
    expect(store.maxActive).toBe(1);
    expect(store.calls[0]).toEqual([1, 2]);
    expect(store.written).toEqual([1, 2, 3, 4, 5]);
  });

  it('under a stream of pushes, slow writes and failures, writes every item once, in order, one write at a time', async () => {
    let active = 0;
    let maxActive = 0;
    let call = 0;
    const written: number[] = [];
    const buffer = make({
      maxItems: 10_000,
      flushSize: 7,
      maxBatchSize: 5,
      flushIntervalMs: 50,
      retryInitialMs: 20,
      writer: async (batch) => {
        active++;
        maxActive = Math.max(maxActive, active);
        call++;
        const fail = call % 4 === 0;
        await new Promise((resolve) => setTimeout(resolve, (call * 7) % 30));
        active--;
        if (fail) throw new Error('flaky');
        written.push(...batch);
      },
    });
    for (let n = 1; n <= 500; n++) {
      expect(buffer.push(n)).toBe(true);
      if (n % 3 === 0) await jest.advanceTimersByTimeAsync(n % 11);
      if (n % 50 === 0) void buffer.flush();
    }
    const closing = buffer.close();
    await jest.runAllTimersAsync();
    await closing;
    expect(maxActive).toBe(1);
    expect(written).toEqual(range(1, 500));
    expect(buffer.stats()).toMatchObject({ buffered: 0, dropped: 0, written: 500 });
    expect(buffer.stats().failedFlushes).toBeGreaterThan(0);
  });

  it('flush() writes at once, even during a backoff, and resolves after the write', async () => {
    const buffer = make({ flushSize: 100 });
    buffer.push(1);
    await buffer.flush();
    expect(store.accepted).toEqual([[1]]);

    store.failNext = 1;
    buffer.push(2);
    await buffer.flush();
    expect(store.accepted).toHaveLength(1);
    await buffer.flush();
    expect(store.accepted).toEqual([[1], [2]]);
    await expect(buffer.flush()).resolves.toBeUndefined();
  });

  it('close() drains everything in batches and stops the timer', async () => {
    const buffer = make({ flushSize: 100, maxBatchSize: 3 });
    range(1, 10).forEach((n) => buffer.push(n));
    expect(buffer.accepting).toBe(true);
    const closing = buffer.close();
    expect(buffer.accepting).toBe(false);
    await closing;
    expect(store.accepted).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
    expect(buffer.stats()).toEqual({ buffered: 0, bufferedBytes: 0, dropped: 0, written: 10, failedFlushes: 0 });
    expect(jest.getTimerCount()).toBe(0);
    expect(buffer.close()).toBe(buffer.close());
  });

  it('close() waits for a write in progress and also drains items pushed while closing', async () => {
    const buffer = make({ flushSize: 2 });
    store.hold = true;
    buffer.push(1);
    buffer.push(2);
    await settle();
    let closed = false;
    const closing = buffer.close().then(() => (closed = true));
    buffer.push(3);
    await settle();
    expect(closed).toBe(false);
    store.hold = false;
    store.pending.shift()?.resolve();
    await closing;
    expect(store.written).toEqual([1, 2, 3]);
    expect(store.maxActive).toBe(1);
  });

  it('close() retries a failing writer and loses nothing when it recovers', async () => {
    const buffer = make({ flushSize: 100, closeMaxAttempts: 5 });
    range(1, 4).forEach((n) => buffer.push(n));
    store.failNext = 3;
    const closing = buffer.close();
    await jest.advanceTimersByTimeAsync(10_000);
    await closing;
    expect(store.written).toEqual([1, 2, 3, 4]);
    expect(buffer.stats()).toEqual({ buffered: 0, bufferedBytes: 0, dropped: 0, written: 4, failedFlushes: 3 });
    expect(drops).toEqual([]);
  });

  it('close() gives up after closeMaxAttempts failures in a row and reports the rest as dropped', async () => {
    const buffer = make({ flushSize: 100, closeMaxAttempts: 3 });
    range(1, 4).forEach((n) => buffer.push(n));
    store.failNext = 1_000;
    const closing = buffer.close();
    await jest.advanceTimersByTimeAsync(10_000);
    await closing;
    expect(store.calls).toHaveLength(3);
    expect(drops).toEqual([[4, 'abandoned']]);
    expect(buffer.stats()).toEqual({ buffered: 0, bufferedBytes: 0, dropped: 4, written: 0, failedFlushes: 3 });
  });

  it('refuses and reports pushes after close', async () => {
    const buffer = make();
    await buffer.close();
    expect(buffer.push(1)).toBe(false);
    expect(drops).toEqual([[1, 'closed']]);
    expect(buffer.stats().dropped).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('reports full drops that happened before close', async () => {
    const buffer = make({ maxItems: 1, flushSize: 100 });
    buffer.push(1);
    buffer.push(2);
    await buffer.close();
    expect(drops).toEqual([[1, 'full']]);
    expect(store.written).toEqual([1]);
  });

  it('refuses unusable options', () => {
    expect(() => make({ maxItems: 0 })).toThrow(/maxItems/);
    expect(() => make({ flushSize: 1.5 })).toThrow(/flushSize/);
    expect(() => make({ flushIntervalMs: -1 })).toThrow(/flushIntervalMs/);
    expect(() => make({ closeMaxAttempts: 0 })).toThrow(/closeMaxAttempts/);
  });
});
