import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { TrackingKey } from '../config/config.schema';

/** One configured secret, derived for one purpose. */
export interface RingKey {
  kid: string;
  kidBytes: Buffer;
  /** A KeyObject rather than bytes: HMAC setup from a KeyObject is about twice as fast. */
  hmacKey: KeyObject;
  /** Epoch ms, or null while the key is not retired. */
  retiredAtMs: number | null;
}

const KID_PATTERN = /^[A-Za-z0-9_-]{1,16}$/;

/**
 * The TRACKING_SECRET keys (newest first) turned into HMAC keys for one purpose: each
 * key is HKDF-SHA256(secret, `info`), so a token made for one purpose (a pixel, a CSM's
 * page link) never verifies for another, and a secret reused elsewhere signs nothing
 * here. The first key signs; every key verifies until `gracePeriodMs` after its
 * `retiredAt`. Shared by every signer so rotation works the same way for all of them.
 */
export class SigningKeyRing {
  /** The key new tokens are signed with. */
  readonly current: RingKey;
  private readonly byKid: ReadonlyMap<string, RingKey>;

  /** Throws on an unusable configuration (a boot-time error). */
  constructor(
    keys: readonly TrackingKey[],
    private readonly gracePeriodMs: number,
    info: string,
  ) {
    const [first] = keys;
    if (first === undefined) throw new Error('signing needs at least one key');
    if (first.retiredAt !== null) throw new Error('the first tracking key signs new tokens and cannot be retired');
    if (!Number.isFinite(gracePeriodMs) || gracePeriodMs < 0) {
      throw new Error('tracking key grace period must be a non-negative number of milliseconds');
    }
    const byKid = new Map<string, RingKey>();
    for (const key of keys) {
      if (!KID_PATTERN.test(key.kid))
        throw new Error(`tracking key id ${JSON.stringify(key.kid)} is not 1-16 of A-Z a-z 0-9 _ -`);
      if (byKid.has(key.kid)) throw new Error(`tracking key id ${key.kid} is used twice`);
      if (key.secret.length === 0) throw new Error(`tracking key ${key.kid} has an empty secret`);
      const retiredAtMs = key.retiredAt === null ? null : key.retiredAt.getTime();
      if (retiredAtMs !== null && Number.isNaN(retiredAtMs))
        throw new Error(`tracking key ${key.kid} has an invalid retiredAt`);
      byKid.set(key.kid, {
        kid: key.kid,
        kidBytes: Buffer.from(key.kid, 'ascii'),
        hmacKey: createSecretKey(
          Buffer.from(hkdfSync('sha256', Buffer.from(key.secret, 'utf8'), Buffer.alloc(0), info, 32)),
        ),
        retiredAtMs,
      });
    }
    this.current = byKid.get(first.kid)!;
    this.byKid = byKid;
  }

  /**
   * The key `kid` names if it still verifies at `nowMs`: not retired, or retired less
   * than the grace period ago (a `retiredAt` in the future verifies normally).
   */
  /** The key `kid` names while it is configured, retired or not (for links that must always work). */
  configured(kid: string): RingKey | undefined {
    return this.byKid.get(kid);
  }

  verifying(kid: string, nowMs: number): RingKey | undefined {
    const key = this.byKid.get(kid);
    if (key === undefined) return undefined;
    return key.retiredAtMs === null || nowMs - key.retiredAtMs < this.gracePeriodMs ? key : undefined;
  }
}
