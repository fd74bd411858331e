/** Why items left the buffer without being written. */
export type HitDropReason =
  /** `push` found the buffer full. */
  | 'full'
  /** A failed batch was put back and the oldest items no longer fitted. */
  | 'overflow'
  /** `push` after `close()` finished. */
  | 'closed'
  /** `close()` gave up after the writer failed `closeMaxAttempts` times in a row. */
  | 'abandoned';

export interface HitBufferOptions<T> {
  /**
   * Writes one batch (e.g. one multi-row INSERT). Called by one flush at a time,
   * never concurrently. A rejection puts the batch back for a later flush, so the
   * writer must be all-or-nothing (one transaction) and must not keep or change the
   * array. Idempotent writes (unique keys) make a retry after an unknown outcome safe.
   */
  writer: (batch: T[]) => Promise<void>;
  /** Items held at most; `push` refuses more. A batch being written is not counted. */
  maxItems: number;
  /**
   * With `sizeOf`: the estimated bytes held at most, so a few large items (a site event
   * can carry ~15k characters) cannot exhaust memory before `maxItems` is reached.
   */
  maxBytes?: number;
  /** An item's estimated size in bytes; must give the same answer for the same item. */
  sizeOf?: (item: T) => number;
  /** A buffer holding this many items flushes at once rather than waiting for the timer. */
  flushSize: number;
  /** Items still buffered are flushed at most this long after they arrived. */
  flushIntervalMs: number;
  /** Items per writer call; defaults to `flushSize`. */
  maxBatchSize?: number;
  /** Delay before retrying after the first failed write; doubles per failure. Default 500 ms. */
  retryInitialMs?: number;
  /** Cap of the retry delay. Default 30 s. */
  retryMaxMs?: number;
  /** `close()` gives up after this many failed writes in a row. Default 5. */
  closeMaxAttempts?: number;
  /**
   * Told about every item lost, so drops are never silent. `full` drops are summed
   * and reported once per timer tick or flush, not once per item, so a flood does not
   * turn into a flood of log lines; the others are reported as they happen.
   */
  onDrop?: (count: number, reason: HitDropReason) => void;
  /** Told about each failed write (the batch is kept for a retry). */
  onWriteError?: (error: unknown, batchSize: number) => void;
}

export interface HitBufferStats {
  /** Items waiting, plus the batch being written. */
  buffered: number;
  /** Estimated bytes of the items waiting (0 without `sizeOf`). */
  bufferedBytes: number;
  /** Items lost, for any reason. */
  dropped: number;
  /** Items the writer accepted. */
  written: number;
  /** Writer calls that failed. */
  failedFlushes: number;
}

type Timer = ReturnType<typeof setTimeout>;

/**
 * A bounded in-memory buffer that batches tracking hits into few database writes
 * and survives a slow or failing database without blocking or exhausting memory.
 *
 * - `push` never blocks and never throws: it returns false (and counts a drop) when
 *   the buffer is full.
 * - A flush starts when `flushSize` items wait, and otherwise `flushIntervalMs` after
 *   items arrive (one unref'd `setTimeout`, so an idle buffer keeps no timer and
 *   never holds the process open).
 * - One writer call at a time; items pushed during a write wait for the next batch.
 * - A failed batch goes back to the front (the oldest items are dropped if that
 *   overflows `maxItems`) and is retried after an exponential backoff; automatic
 *   flushes pause during the backoff, an explicit `flush()` does not.
 * - `close()` (graceful shutdown, checklist item 9) drains everything, retrying a
 *   failing writer up to `closeMaxAttempts` times before reporting the rest as dropped.
 *
 * Memory bound: `maxItems` waiting (and at most `maxBytes` of them, by `sizeOf`) plus one
 * batch of `maxBatchSize` being written.
 */
export class HitBuffer<T> {
  private queue: T[] = [];
  /** `sizeOf` of each item in `queue`, in the same order: measured once, on push. */
  private sizes: number[] = [];
  /** Estimated bytes in `queue`. */
  private queuedBytes = 0;
  private writing: T[] = [];
  private inFlight: Promise<boolean> | null = null;
  private queuedFlush: Promise<boolean> | null = null;
  private timer: Timer | null = null;
  private backingOff = false;
  private consecutiveFailures = 0;
  private closing: Promise<void> | null = null;
  private closed = false;
  private unreportedFullDrops = 0;
  private readonly counters = { dropped: 0, written: 0, failedFlushes: 0 };

  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly sizeOf: (item: T) => number;
  private readonly flushSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxBatchSize: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly closeMaxAttempts: number;

  constructor(private readonly options: HitBufferOptions<T>) {
    this.maxItems = positiveInteger(options.maxItems, 'maxItems');
    this.maxBytes = options.maxBytes === undefined ? Infinity : positiveInteger(options.maxBytes, 'maxBytes');
    this.sizeOf = options.sizeOf ?? (() => 0);
    this.flushSize = positiveInteger(options.flushSize, 'flushSize');
    this.flushIntervalMs = nonNegative(options.flushIntervalMs, 'flushIntervalMs');
    this.maxBatchSize = positiveInteger(options.maxBatchSize ?? options.flushSize, 'maxBatchSize');
    this.retryInitialMs = nonNegative(options.retryInitialMs ?? 500, 'retryInitialMs');
    this.retryMaxMs = nonNegative(options.retryMaxMs ?? 30_000, 'retryMaxMs');
    this.closeMaxAttempts = positiveInteger(options.closeMaxAttempts ?? 5, 'closeMaxAttempts');
  }

  /** Adds an item. False when it was dropped (buffer full, or closed); never throws. */
  push(item: T): boolean {
    if (this.closed) {
      this.drop(1, 'closed');
      return false;
    }
    const size = this.sizeOf(item);
    if (this.queue.length >= this.maxItems || this.queuedBytes + size > this.maxBytes) {
      this.counters.dropped++;
      this.unreportedFullDrops++;
      return false;
    }
    this.queue.push(item);
    this.sizes.push(size);
    this.queuedBytes += size;
    if (this.closing === null) {
      if (this.queue.length >= this.flushSize && this.inFlight === null && !this.backingOff) {
        void this.flush();
      } else {
        this.armTimer(this.flushIntervalMs);
      }
    }
    return true;
  }

  /**
   * Writes one batch of the oldest items (up to `maxBatchSize`), after any write in
   * progress. Resolves when that write has finished, successfully or not: it never
   * rejects; a failure is counted, reported to `onWriteError` and retried later.
   * Calls made while a write runs share one follow-up flush.
   */
  async flush(): Promise<void> {
    await this.flushOnce();
  }

  /** True until `close()` is called (shutdown has begun). */
  get accepting(): boolean {
    return this.closing === null;
  }

  /** Counters for health checks and metrics. */
  stats(): HitBufferStats {
    return {
      buffered: this.queue.length + this.writing.length,
      bufferedBytes: this.queuedBytes,
      dropped: this.counters.dropped,
      written: this.counters.written,
      failedFlushes: this.counters.failedFlushes,
    };
  }

  /**
   * Stops the timer and writes everything left, batch after batch, including items
   * pushed while closing. A failing writer is retried with backoff; after
   * `closeMaxAttempts` failures in a row the remaining items are reported as
   * `abandoned` drops. Never rejects; calling it again returns the same promise.
   * Pushes after it resolves are dropped and reported as `closed`.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.clearTimer();
    let failures = 0;
    while (this.queue.length > 0 || this.inFlight !== null) {
      const ok = await this.flushOnce();
      if (ok) {
        failures = 0;
        continue;
      }
      failures++;
      if (failures >= this.closeMaxAttempts) break;
      // Not unref'd: during shutdown this wait is what keeps the items alive.
      await new Promise<void>((resolve) => setTimeout(resolve, this.backoffMs(failures)));
    }
    this.clearTimer();
    this.closed = true;
    this.reportFullDrops();
    const left = this.queue.length;
    this.queue = [];
    this.sizes = [];
    this.queuedBytes = 0;
    if (left > 0) this.drop(left, 'abandoned');
  }

  /** Serialises flushes: at most one running and one waiting. Resolves true when the write succeeded. */
  private flushOnce(): Promise<boolean> {
    if (this.inFlight === null) {
      const run = this.runWrite();
      this.inFlight = run;
      return run;
    }
    this.queuedFlush ??= this.inFlight.then(() => {
      this.queuedFlush = null;
      return this.flushOnce();
    });
    return this.queuedFlush;
  }

  private async runWrite(): Promise<boolean> {
    let ok: boolean;
    try {
      ok = await this.writeBatch();
    } finally {
      this.inFlight = null;
    }
    this.scheduleAfterWrite(ok);
    return ok;
  }

  private async writeBatch(): Promise<boolean> {
    this.reportFullDrops();
    if (this.queue.length === 0) return true;
    this.clearTimer();
    const batch = this.queue.splice(0, this.maxBatchSize);
    const sizes = this.sizes.splice(0, batch.length);
    this.queuedBytes -= sum(sizes);
    this.writing = batch;
    try {
      await this.options.writer(batch);
    } catch (error: unknown) {
      this.writing = [];
      this.reportFullDrops();
      this.counters.failedFlushes++;
      this.consecutiveFailures++;
      this.notify(() => this.options.onWriteError?.(error, batch.length));
      this.putBack(batch, sizes);
      return false;
    }
    this.writing = [];
    this.reportFullDrops();
    this.counters.written += batch.length;
    this.consecutiveFailures = 0;
    this.backingOff = false;
    return true;
  }

  /** Returns a failed batch to the front; when that overflows either bound, the oldest items go. */
  private putBack(batch: T[], batchSizes: number[]): void {
    const merged = batch.concat(this.queue);
    const mergedSizes = batchSizes.concat(this.sizes);
    let overflow = Math.max(0, merged.length - this.maxItems);
    let bytes = sum(mergedSizes) - sum(mergedSizes.slice(0, overflow));
    while (bytes > this.maxBytes && overflow < merged.length) {
      bytes -= mergedSizes[overflow]!;
      overflow++;
    }
    if (overflow > 0) {
      merged.splice(0, overflow);
      mergedSizes.splice(0, overflow);
      this.drop(overflow, 'overflow');
    }
    this.queue = merged;
    this.sizes = mergedSizes;
    this.queuedBytes = bytes;
  }

  /** Runs once the write has settled and `inFlight` is cleared. */
  private scheduleAfterWrite(ok: boolean): void {
    if (this.closing !== null) return;
    if (!ok) {
      this.backingOff = true;
      this.clearTimer();
      this.armTimer(this.backoffMs(this.consecutiveFailures));
    } else if (this.queue.length >= this.flushSize && !this.backingOff) {
      void this.flush();
    } else if (this.queue.length > 0) {
      this.armTimer(this.flushIntervalMs);
    }
  }

  private onTimer(): void {
    this.timer = null;
    this.backingOff = false;
    this.reportFullDrops();
    if (this.closing !== null) return;
    if (this.inFlight === null) {
      if (this.queue.length > 0) void this.flush();
    } else {
      // A write is still running: look again later so drops keep being reported.
      this.armTimer(this.flushIntervalMs);
    }
  }

  private armTimer(delayMs: number): void {
    if (this.timer !== null || this.closing !== null) return;
    const timer = setTimeout(() => this.onTimer(), delayMs);
    timer.unref?.();
    this.timer = timer;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private backoffMs(failures: number): number {
    return Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.max(0, failures - 1));
  }

  private reportFullDrops(): void {
    if (this.unreportedFullDrops === 0) return;
    const count = this.unreportedFullDrops;
    this.unreportedFullDrops = 0;
    this.notify(() => this.options.onDrop?.(count, 'full'));
  }

  private drop(count: number, reason: Exclude<HitDropReason, 'full'>): void {
    this.counters.dropped += count;
    this.notify(() => this.options.onDrop?.(count, reason));
  }

  /** Hooks are the owner's code; a throwing hook must not break the buffer. */
  private notify(hook: () => void): void {
    try {
      hook();
    } catch {
      // Deliberately ignored: the counters in stats() still hold the numbers.
    }
  }
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`HitBuffer ${name} must be a positive integer`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new Error(`HitBuffer ${name} must be a non-negative number`);
  return value;
}
