import type { BackoffPolicy } from './retry-policy.util';
import { DEFAULT_BACKOFF } from './retry-policy.util';

/** Tuning of the send worker (defaults suit production; tests shorten them). */
export interface SendWorkerOptions {
  batchSize: number;
  /** How long a claim holds a message; past it another worker may take it over. */
  leaseMs: number;
  /**
   * How often the leases of a batch still being worked on are extended by another `leaseMs`
   * (default: a third of `leaseMs`; 0 turns renewal off).
   */
  leaseRenewMs?: number;
  /**
   * Messages that go through the send phases together: one policy query, one in-flight
   * mark and one sent record per chunk, and the chunk's sends in flight at once (they
   * fill the transport's pool). At most this many messages are ever "in flight".
   */
  chunkSize: number;
  /** Chunks processed at once: while one waits on the transport, the next is checked and rendered. */
  concurrency: number;
  backoff: BackoffPolicy;
}

export const SEND_WORKER_OPTIONS = Symbol('SEND_WORKER_OPTIONS');

export const DEFAULT_SEND_WORKER_OPTIONS: SendWorkerOptions = {
  batchSize: 200,
  leaseMs: 5 * 60_000,
  chunkSize: 16,
  concurrency: 2,
  backoff: DEFAULT_BACKOFF,
};
