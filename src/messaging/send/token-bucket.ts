/**
 * A token bucket: `ratePerSecond` sends on average, bursts up to `burst`. `take()` waits
 * (real time: this paces network calls, it is not domain time) until a token is free.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number = Math.max(1, Math.ceil(ratePerSecond)),
    private readonly monotonicMs: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.tokens = burst;
    this.last = monotonicMs();
  }

  /** Resolves when the caller may send one message. Callers are served in order. */
  take(): Promise<void> {
    const next = this.queue.then(() => this.acquire());
    // One failed wait must not fail every later caller.
    this.queue = next.catch(() => undefined);
    return next;
  }

  private refill(): void {
    const now = this.monotonicMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }

  private async acquire(): Promise<void> {
    this.refill();
    while (this.tokens < 1) {
      await this.sleep(Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
      this.refill();
    }
    this.tokens -= 1;
  }
}
