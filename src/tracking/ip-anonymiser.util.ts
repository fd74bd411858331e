import { createHmac } from 'node:crypto';
import { formatIpAddress, maskIpAddress, parseIpAddress } from '../common/ip-address.util';

/** IPv4 addresses keep their first 24 bits (`203.0.113.77` -> `203.0.113.0`). */
export const IPV4_KEPT_PREFIX = 24;
/** IPv6 addresses keep their first 48 bits, roughly one site (`2001:db8:1:2::5` -> `2001:db8:1::`). */
export const IPV6_KEPT_PREFIX = 48;

/** Shortest `hashIp` key accepted, in bytes: shorter keys make the hash guessable. */
const MIN_HASH_KEY_BYTES = 16;

/**
 * Truncates an IP address before it is stored (checklist item 28): IPv4 to /24 and
 * IPv6 to /48, returned in canonical text form. An IPv4-mapped IPv6 address
 * (`::ffff:1.2.3.4`, what a dual-stack socket reports) is treated as the IPv4
 * address it carries; a zone id is dropped. Returns null for anything that is not
 * an IP address, and never throws, so request data can be passed straight in.
 */
export function anonymiseIp(ip: unknown): string | null {
  const parsed = parseIpAddress(ip);
  if (parsed === null) return null;
  return formatIpAddress(maskIpAddress(parsed, parsed.family === 4 ? IPV4_KEPT_PREFIX : IPV6_KEPT_PREFIX));
}

/**
 * The alternative to truncation when equality matters (counting distinct clients,
 * spotting one scanner hitting many links): a keyed HMAC-SHA256 of the full address,
 * returned as 32 hex characters (128 bits). Every textual form of one address hashes
 * the same (`::FFFF:1.2.3.4` = `1.2.3.4`, `2001:DB8::1` = `2001:db8:0::1`).
 *
 * Without the key the hash cannot be reversed by trying all 2^32 IPv4 addresses, so
 * the key must be secret and should be rotated (e.g. daily) when linking hits across
 * days is not needed; note that a keyed hash is still pseudonymous personal data.
 * Returns null for an invalid address; throws only on a key shorter than 16 bytes
 * (a configuration error, not bad input).
 */
export function hashIp(ip: unknown, key: string | Uint8Array): string | null {
  const keyBytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (keyBytes.length < MIN_HASH_KEY_BYTES) {
    throw new TypeError(`hashIp key must be at least ${MIN_HASH_KEY_BYTES} bytes`);
  }
  const parsed = parseIpAddress(ip);
  if (parsed === null) return null;
  return createHmac('sha256', keyBytes)
    .update(Uint8Array.of(parsed.family))
    .update(parsed.bytes)
    .digest()
    .subarray(0, 16)
    .toString('hex');
}
