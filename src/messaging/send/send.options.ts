import type { BackoffPolicy } from './retry-policy.util';
import { DEFAULT_BACKOFF } from './retry-policy.util';

/** Tuning of the send worker (defaults suit production; tests shorten them). */
export interface SendWorkerOptions {
  batchSize: number;
  /** How long a claim holds a message; past it another worker may take it over. */
  leaseMs: number;
  /** Messages of a batch handed to the transport at once (fills the SMTP pool). */
  concurrency: number;
  backoff: BackoffPolicy;
}

export const SEND_WORKER_OPTIONS = Symbol('SEND_WORKER_OPTIONS');

export const DEFAULT_SEND_WORKER_OPTIONS: SendWorkerOptions = {
  batchSize: 200,
  leaseMs: 5 * 60_000,
  concurrency: 16,
  backoff: DEFAULT_BACKOFF,
};
