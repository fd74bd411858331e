import { isIP } from 'node:net';

/**
 * An IP address as raw bytes: 4 bytes for IPv4, 16 for IPv6. IPv4-mapped IPv6
 * addresses (`::ffff:1.2.3.4`) are unwrapped to IPv4, so one client seen through a
 * dual-stack socket and through a plain IPv4 socket parses to the same value.
 */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** An address range in CIDR notation, parsed once for fast membership tests. */
export interface IpCidr {
  family: 4 | 6;
  /** Network bytes with every host bit cleared. */
  network: Uint8Array;
  prefixLength: number;
}

/** Longer text than this is not an IP address; refusing early bounds the work. */
const MAX_IP_TEXT_LENGTH = 100;

/**
 * Parses an IPv4 or IPv6 address (any textual form `node:net` accepts: compressed
 * `::`, upper or lower case, embedded dotted quad). A zone id (`fe80::1%eth0`) is
 * dropped: it names an interface on the host that saw the packet and means nothing
 * to us. Returns null for anything else, and never throws.
 */
export function parseIpAddress(text: unknown): IpAddress | null {
  if (typeof text !== 'string') return null;
  let candidate = text.trim();
  if (candidate.length === 0 || candidate.length > MAX_IP_TEXT_LENGTH) return null;
  if (candidate.includes(':')) {
    const zone = candidate.indexOf('%');
    if (zone === 0) return null;
    if (zone > 0) candidate = candidate.slice(0, zone);
  }
  switch (isIP(candidate)) {
    case 4:
      return { family: 4, bytes: parseIpv4Bytes(candidate) };
    case 6: {
      const bytes = parseIpv6Bytes(candidate);
      if (bytes === null) return null;
      return isIpv4Mapped(bytes) ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
    }
    default:
      return null;
  }
}

/**
 * Formats an address canonically: dotted quad for IPv4, RFC 5952 for IPv6 (lower
 * case, leading zeros dropped, the longest run of two or more zero groups as `::`).
 */
export function formatIpAddress(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0));
  // Find the longest run of zero groups (the first one wins a tie, as RFC 5952 says).
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < groups.length && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLength < 2) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

/** Keeps the first `prefixLength` bits of the address and zeroes the rest. */
export function maskIpAddress(ip: IpAddress, prefixLength: number): IpAddress {
  return { family: ip.family, bytes: maskBytes(ip.bytes, prefixLength) };
}

/**
 * Parses `17.0.0.0/8` or `2620:149::/32`. Host bits set in the network part are
 * cleared (`17.1.2.3/8` means `17.0.0.0/8`). Returns null for anything invalid.
 */
export function parseCidr(text: string): IpCidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIpAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1).trim();
  if (ip === null || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefixLength = Number(prefixText);
  if (prefixLength > ip.bytes.length * 8) return null;
  return { family: ip.family, network: maskBytes(ip.bytes, prefixLength), prefixLength };
}

/** True when the address lies inside the range (families must match). */
export function isIpInCidr(ip: IpAddress, cidr: IpCidr): boolean {
  if (ip.family !== cidr.family) return false;
  const masked = maskBytes(ip.bytes, cidr.prefixLength);
  for (let i = 0; i < masked.length; i++) {
    if (masked[i] !== cidr.network[i]) return false;
  }
  return true;
}

function maskBytes(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const bits = Math.max(0, Math.min(prefixLength, bytes.length * 8));
  const whole = Math.floor(bits / 8);
  for (let i = 0; i < whole; i++) out[i] = bytes[i] ?? 0;
  const rest = bits % 8;
  if (rest > 0) out[whole] = (bytes[whole] ?? 0) & (0xff << (8 - rest)) & 0xff;
  return out;
}

/** `text` has already been validated by `isIP` as IPv4 (no leading zeros, 0-255). */
function parseIpv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** `text` has already been validated by `isIP` as IPv6; this only expands it. */
function parseIpv6Bytes(text: string): Uint8Array | null {
  const bytes = new Uint8Array(16);
  const toGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        if (isIP(piece) !== 4) return null;
        const [a = 0, b = 0, c = 0, d = 0] = parseIpv4Bytes(piece);
        groups.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        groups.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const doubleColon = text.indexOf('::');
  let groups: number[];
  if (doubleColon >= 0) {
    const head = toGroups(text.slice(0, doubleColon));
    const tail = toGroups(text.slice(doubleColon + 2));
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = toGroups(text);
    if (all === null || all.length !== 8) return null;
    groups = all;
  }
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
