import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { SigningKeyRing } from '../common/signing-key-ring';
import type { TrackingKey } from '../config/config.schema';

/** Open pixel of one message. */
export interface OpenTokenPayload {
  k: 'o';
  /** Message id (UUID). */
  m: string;
}

/** Click on one rewritten link of one message; the target URL is looked up by index, never carried. */
export interface ClickTokenPayload {
  k: 'c';
  m: string;
  /** Index of the link in the rendered message, 0-65535. */
  l: number;
}

/** Unsubscribe link (and List-Unsubscribe URL) of one message. */
export interface UnsubscribeTokenPayload {
  k: 'u';
  m: string;
}

/** Short-lived identity parameter appended to links into the customer's site. */
export interface IdentityTokenPayload {
  k: 'i';
  /** Contact id (UUID). */
  c: string;
  /** Expiry, Unix seconds; the token is refused from this second on. */
  exp: number;
}

/** What a tracking token carries. Never an email address or any other personal data. */
export type TrackingTokenPayload =
  OpenTokenPayload | ClickTokenPayload | UnsubscribeTokenPayload | IdentityTokenPayload;

export type TrackingTokenKind = TrackingTokenPayload['k'];

/** The keys and grace period, shaped like `AppConfig['tracking']`. */
export interface TrackingTokenSignerOptions {
  /** Newest first: the first key signs; every key may verify (see `verify`). */
  keys: readonly TrackingKey[];
  /** How long a retired key still verifies after its `retiredAt`. */
  gracePeriodMs: number;
}

/** Default lifetime of identity tokens: long enough to follow a link, short enough to not be shared. */
export const IDENTITY_TOKEN_TTL_MS = 10 * 60 * 1000;

/** Current layout version; bumping it makes every older token fail to verify. */
const TOKEN_VERSION = 1;
/** Truncated HMAC-SHA256 tag: 128 bits. */
const TAG_BYTES = 16;
const UUID_BYTES = 16;
const MAX_KID_BYTES = 16;
/** No valid token is longer (16-character kid, identity kind: 55 bytes -> 74 characters). */
const MAX_TOKEN_CHARS = 96;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;
/** HKDF `info`: the signing key is derived per purpose, so a secret reused elsewhere signs nothing here. */
const KEY_DERIVATION_INFO = 'tend/tracking-token/v1';

/** Kind byte on the wire and the size of the fields that follow the kid. */
const KINDS = {
  o: { code: 0x01, fieldBytes: UUID_BYTES },
  c: { code: 0x02, fieldBytes: UUID_BYTES + 2 },
  u: { code: 0x03, fieldBytes: UUID_BYTES },
  i: { code: 0x04, fieldBytes: UUID_BYTES + 4 },
} as const satisfies Record<TrackingTokenKind, { code: number; fieldBytes: number }>;

const KIND_BY_CODE = new Map<number, TrackingTokenKind>(
  (Object.keys(KINDS) as TrackingTokenKind[]).map((kind) => [KINDS[kind].code, kind]),
);

/**
 * Signs and verifies the compact, URL-safe tokens in tracking URLs (pixel, click,
 * unsubscribe, site identity).
 *
 * Binary layout, then base64url without padding:
 * ```
 * offset      size  field
 * 0           1     version (0x01)
 * 1           1     kind: 0x01 open, 0x02 click, 0x03 unsubscribe, 0x04 identity
 * 2           1     kid length n (1-16)
 * 3           n     kid, ASCII
 * 3+n         16    message id (o, c, u) or contact id (i), the UUID's 16 raw bytes
 * 19+n        2     click only: link index, uint16 big-endian
 * 19+n        4     identity only: expiry, Unix seconds, uint32 big-endian
 * end-16      16    tag: HMAC-SHA256(signing key, every byte before it), first 16 bytes
 * ```
 * The signing key of each configured key is HKDF-SHA256(secret, info
 * `tend/tracking-token/v1`). Kind and version are covered by the tag, so an open
 * token can never pass as a click or unsubscribe token. With a 2-character kid a
 * click token is 39 bytes = 52 characters; open and unsubscribe 50; identity 55.
 *
 * The encoding is canonical: any other string (a changed character, padding, trailing
 * bits set in the last character) fails to verify, so one token has one spelling.
 */
export class TrackingTokenSigner {
  private readonly keys: SigningKeyRing;

  /** Throws on an unusable configuration (boot-time error); `verify` itself never throws. */
  constructor(options: TrackingTokenSignerOptions) {
    this.keys = new SigningKeyRing(options.keys, options.gracePeriodMs, KEY_DERIVATION_INFO);
  }

  /** The key id new tokens are signed with. */
  get currentKid(): string {
    return this.keys.current.kid;
  }

  /**
   * Signs a payload with the current key. Throws a TypeError on a payload that
   * cannot be encoded (not a UUID, link index outside 0-65535, expiry outside
   * uint32): those are programming errors, never request input.
   */
  sign(payload: TrackingTokenPayload): string {
    const key = this.keys.current;
    const spec = (KINDS as Partial<Record<string, (typeof KINDS)[TrackingTokenKind]>>)[payload.k];
    if (spec === undefined) throw new TypeError(`unknown tracking token kind ${JSON.stringify(payload.k)}`);
    const body = Buffer.alloc(3 + key.kidBytes.length + spec.fieldBytes);
    body[0] = TOKEN_VERSION;
    body[1] = spec.code;
    body[2] = key.kidBytes.length;
    key.kidBytes.copy(body, 3);
    const fields = 3 + key.kidBytes.length;
    switch (payload.k) {
      case 'o':
      case 'u':
        writeUuid(body, fields, payload.m);
        break;
      case 'c':
        writeUuid(body, fields, payload.m);
        if (!Number.isInteger(payload.l) || payload.l < 0 || payload.l > 0xffff) {
          throw new TypeError(`link index must be an integer 0-65535, got ${payload.l}`);
        }
        body.writeUInt16BE(payload.l, fields + UUID_BYTES);
        break;
      case 'i':
        writeUuid(body, fields, payload.c);
        if (!Number.isInteger(payload.exp) || payload.exp < 0 || payload.exp > 0xffffffff) {
          throw new TypeError(`identity token expiry must be Unix seconds within uint32, got ${payload.exp}`);
        }
        body.writeUInt32BE(payload.exp, fields + UUID_BYTES);
        break;
    }
    return Buffer.concat([body, tagOf(key.hmacKey, body)]).toString('base64url');
  }

  /** Signs an identity token for `contactId` that expires `ttlMs` after `now` (rounded up to a second). */
  signIdentity(contactId: string, now: Date, ttlMs: number = IDENTITY_TOKEN_TTL_MS): string {
    return this.sign({ k: 'i', c: contactId, exp: Math.ceil((now.getTime() + ttlMs) / 1000) });
  }

  /**
   * Returns the payload of a genuine token, or null. Null for anything else, never an
   * exception: not a string, too long, not canonical base64url, wrong length for its
   * kind, unknown version or kind, unknown kid, a key retired `gracePeriodMs` or more
   * before `now` (except for unsubscribe tokens, which every configured key verifies), a bad tag (compared in constant time), or an identity token at or
   * past its expiry. A key whose `retiredAt` is still in the future verifies normally.
   * Ids come back as lower-case UUIDs.
   */
  verify(token: unknown, now: Date): TrackingTokenPayload | null {
    const nowMs = now.getTime();
    if (Number.isNaN(nowMs)) return null;
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
    if (!BASE64URL_PATTERN.test(token)) return null;
    const bytes = Buffer.from(token, 'base64url');
    if (bytes.toString('base64url') !== token) return null;
    if (bytes.length < 3 || bytes[0] !== TOKEN_VERSION) return null;
    const kind = KIND_BY_CODE.get(bytes[1] ?? -1);
    const kidLength = bytes[2] ?? 0;
    if (kind === undefined || kidLength === 0 || kidLength > MAX_KID_BYTES) return null;
    const fields = 3 + kidLength;
    const bodyLength = fields + KINDS[kind].fieldBytes;
    if (bytes.length !== bodyLength + TAG_BYTES) return null;
    // An unsubscribe link must work for as long as its mail exists (特定電子メール法): it verifies
    // with every configured key, retired or not. Every other kind stops at the grace period.
    const kid = bytes.toString('latin1', 3, fields);
    const key = kind === 'u' ? this.keys.configured(kid) : this.keys.verifying(kid, nowMs);
    if (key === undefined) return null;
    const body = bytes.subarray(0, bodyLength);
    if (!timingSafeEqual(tagOf(key.hmacKey, body), bytes.subarray(bodyLength))) return null;

    const id = readUuid(bytes, fields);
    switch (kind) {
      case 'o':
        return { k: 'o', m: id };
      case 'u':
        return { k: 'u', m: id };
      case 'c':
        return { k: 'c', m: id, l: bytes.readUInt16BE(fields + UUID_BYTES) };
      case 'i': {
        const exp = bytes.readUInt32BE(fields + UUID_BYTES);
        return nowMs < exp * 1000 ? { k: 'i', c: id, exp } : null;
      }
    }
  }

  /**
   * `verify`, then requires the expected kind: the click endpoint takes only click
   * tokens, the pixel only open tokens, and so on.
   */
  verifyKind<K extends TrackingTokenKind>(
    token: unknown,
    kind: K,
    now: Date,
  ): Extract<TrackingTokenPayload, { k: K }> | null {
    const payload = this.verify(token, now);
    return payload !== null && payload.k === kind ? (payload as Extract<TrackingTokenPayload, { k: K }>) : null;
  }
}

function tagOf(signingKey: KeyObject, body: Uint8Array): Buffer {
  return createHmac('sha256', signingKey).update(body).digest().subarray(0, TAG_BYTES);
}

function writeUuid(target: Buffer, offset: number, uuid: string): void {
  if (typeof uuid !== 'string' || !UUID_PATTERN.test(uuid)) {
    throw new TypeError(`expected a UUID, got ${JSON.stringify(uuid)}`);
  }
  Buffer.from(uuid.replaceAll('-', ''), 'hex').copy(target, offset);
}

function readUuid(source: Buffer, offset: number): string {
  const hex = source.toString('hex', offset, offset + UUID_BYTES);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
