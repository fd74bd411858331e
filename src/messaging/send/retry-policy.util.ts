import { redactEmails } from '../../common/email';

/** What a transport failure means for the message. */
export type SendFailureKind =
  /** The provider definitely did not take it and may later: retry with backoff. */
  | 'retry'
  /** The provider refused it for good (400/401/403/413, SMTP 5xx): dead letter at once. */
  | 'permanent'
  /** The provider may have accepted it (timeout, connection lost mid-send): hold for reconciliation. */
  | 'unknown';

/** A classified transport failure. `retryAfterMs` comes from a 429's Retry-After. */
export class SendFailure extends Error {
  constructor(
    readonly kind: SendFailureKind,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    // Stored as the message's status reason and in its events: a provider's text may quote
    // the recipient (`550 5.1.1 <taro@example.jp>... rejected`), which is never kept.
    super(redactEmails(message));
    this.name = 'SendFailure';
  }
}

export interface BackoffPolicy {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { maxAttempts: 5, baseMs: 30_000, maxMs: 60 * 60_000 };

/**
 * Delay before retry number `attempt` (1-based: the attempt that just failed): exponential
 * with full jitter over the upper half, capped; a Retry-After is a floor, never shortened.
 */
export function computeRetryDelay(
  attempt: number,
  policy: BackoffPolicy,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(exp / 2 + random() * (exp / 2));
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Parses Retry-After (seconds or an HTTP date) relative to `now`; undefined when absent or unusable. */
export function parseRetryAfter(value: unknown, now: Date): number | undefined {
  const text: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof text !== 'string' && typeof text !== 'number') return undefined;
  const s = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** HTTP status of a provider API answer -> what to do. */
export function classifyHttpStatus(status: number): SendFailureKind {
  if (status === 429 || status === 408 || status >= 500) return 'retry';
  return 'permanent';
}
