export interface TokenThrottleOptions {
  /** Hits recorded per key per window. Default 20. */
  limit?: number;
  /** Window length. Default one minute. */
  windowMs?: number;
  /** Keys tracked at most; beyond it the key whose window started first is forgotten. Default 100,000. */
  maxKeys?: number;
}

export interface TokenThrottleStats {
  /** Keys tracked now. */
  keys: number;
  /** `allow` calls answered true. */
  allowed: number;
  /** `allow` calls answered false. */
  throttled: number;
  /** Keys forgotten early to keep within `maxKeys`. */
  evicted: number;
}

interface Window {
  startMs: number;
  count: number;
}

/**
 * Per-key rate limit on *recording* tracking hits (checklist item 27): a pixel or
 * link hammered 1,000 times a minute still gets its GIF or redirect, but only the
 * first `limit` hits of each window reach the database.
 *
 * Each key gets a fixed window that starts at its first hit; the window of a key
 * idle for `windowMs` is over, so any `windowMs` span records at most `2 * limit`
 * hits of one key, and a steady flood records `limit` per window.
 *
 * Memory is bounded by `maxKeys`: finished windows are swept as time passes, and when a new key arrives at the cap, the key whose window started first is
 * forgotten (it may then record again early: failing open is right for analytics,
 * and the cap is far above the number of tokens hit in a minute in normal use).
 * Keys are held as given; pass a short key (the token, or kind + message id).
 *
 * Time comes from the caller (`now`), so a test or the simulator drives it.
 */
export class TokenThrottle {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  /** Insertion order = window start order: a key is re-inserted when its window restarts. */
  private readonly windows = new Map<string, Window>();
  private readonly counters = { allowed: 0, throttled: 0, evicted: 0 };

  constructor(options: TokenThrottleOptions = {}) {
    this.limit = positiveInteger(options.limit ?? 20, 'limit');
    this.windowMs = positiveInteger(options.windowMs ?? 60_000, 'windowMs');
    this.maxKeys = positiveInteger(options.maxKeys ?? 100_000, 'maxKeys');
  }

  /**
   * Counts a hit on `key` at `now` and says whether to record it. Never throws;
   * an invalid date is treated as "do not record".
   */
  allow(key: string, now: Date): boolean {
    const nowMs = now.getTime();
    if (Number.isNaN(nowMs)) return this.answer(false);
    this.sweep(nowMs);
    const window = this.windows.get(key);
    if (window !== undefined && nowMs - window.startMs < this.windowMs) {
      if (window.count >= this.limit) return this.answer(false);
      window.count++;
      return this.answer(true);
    }
    if (window !== undefined) {
      this.windows.delete(key);
    } else if (this.windows.size >= this.maxKeys) {
      this.evictOldest();
    }
    this.windows.set(key, { startMs: nowMs, count: 1 });
    return this.answer(true);
  }

  stats(): TokenThrottleStats {
    return { keys: this.windows.size, ...this.counters };
  }

  private answer(allowed: boolean): boolean {
    if (allowed) this.counters.allowed++;
    else this.counters.throttled++;
    return allowed;
  }

  /**
   * Forgets keys whose window is over. The map is in window-start order, so the scan
   * stops at the first live window: amortised O(1) per call. (If the clock ever steps
   * back, order may break and a few finished windows linger until the cap evicts them.)
   */
  private sweep(nowMs: number): void {
    for (const [key, window] of this.windows) {
      if (nowMs - window.startMs < this.windowMs) return;
      this.windows.delete(key);
    }
  }

  private evictOldest(): void {
    const oldest = this.windows.keys().next();
    if (oldest.done !== true) {
      this.windows.delete(oldest.value);
      this.counters.evicted++;
    }
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`TokenThrottle ${name} must be a positive integer`);
  return value;
}
