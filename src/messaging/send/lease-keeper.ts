import { logger } from '../../common/logger';

/** A claimed message and the token that fences every write to it. */
export interface HeldLease {
  id: string;
  leaseToken: string;
}

/** Where leases are extended (SendRepository). */
export interface LeaseStore {
  extendLeases(held: readonly HeldLease[], until: Date): Promise<Set<string>>;
}

/**
 * Keeps the leases of a claimed batch alive while the worker works on it, and says whether
 * a message may still be handed to the transport.
 *
 * A lease expires `leaseMs` after its claim; another worker then takes the message over.
 * A batch can outlast that: a slow SMTP server, a low `MAIL_RATE_PER_SECOND`, a provider's
 * Retry-After. So the leases still held are extended every `renewMs` while the batch runs.
 * A message is sent only before its known expiry minus `marginMs` (clock skew between
 * instances, and the time a send takes): when renewals fail (the database is unreachable),
 * the worker stops sending rather than race the worker that will reclaim the message.
 * Renewals end `maxHoldMs` after the claim, so a worker stuck on a send that never returns
 * gives its messages up then (the next worker finds them marked in flight and checks first).
 */
export class LeaseKeeper {
  /** Known lease expiry (epoch ms) of each message still being worked on. */
  private readonly expiries = new Map<string, number>();
  private readonly tokens = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  /** Renewals stop here: a send that hangs must not hold its message for good. */
  private readonly renewUntilMs: number;

  constructor(
    private readonly store: LeaseStore,
    private readonly now: () => number,
    private readonly leaseMs: number,
    private readonly marginMs: number,
    claimed: readonly HeldLease[],
    claimedAtMs: number,
    maxHoldMs: number,
  ) {
    this.renewUntilMs = claimedAtMs + maxHoldMs;
    for (const { id, leaseToken } of claimed) {
      this.tokens.set(id, leaseToken);
      this.expiries.set(id, claimedAtMs + leaseMs);
    }
  }

  /** Renews every `everyMs` until `stop()`; 0 turns renewal off. */
  start(everyMs: number): void {
    if (everyMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.renew(), everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
  }

  /** True while `id` may still be handed to the transport. */
  holds(id: string): boolean {
    const expiry = this.expiries.get(id);
    return expiry !== undefined && this.now() < expiry - this.marginMs;
  }

  /** The outcome of `id` is written: its lease is no longer extended. */
  done(id: string): void {
    this.tokens.delete(id);
    this.expiries.delete(id);
  }

  /** Extends the leases still held; one renewal at a time. Never throws. */
  renew(): Promise<void> {
    this.renewing ??= this.extend().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async extend(): Promise<void> {
    const held = [...this.tokens].map(([id, leaseToken]) => ({ id, leaseToken }));
    if (held.length === 0 || this.now() >= this.renewUntilMs) return;
    const until = Math.min(this.now() + this.leaseMs, this.renewUntilMs);
    try {
      const extended = await this.store.extendLeases(held, new Date(until));
      for (const id of extended) {
        if (this.expiries.has(id)) this.expiries.set(id, until);
      }
    } catch (error: unknown) {
      logger.warn({ err: error, messages: held.length }, 'lease renewal failed; sends stop at the current expiry');
    }
  }
}
