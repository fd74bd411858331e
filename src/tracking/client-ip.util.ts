import { formatIpAddress, isIpInCidr, parseCidr, parseIpAddress, type IpCidr } from '../common/ip-address.util';

/**
 * Which peers may say who the client is in X-Forwarded-For, compiled once from
 * `TRUST_PROXY` (`AppConfig['http']['trustProxy']`): nobody, everybody, or the
 * peers in some address ranges.
 */
export type ProxyTrust = { kind: 'none' } | { kind: 'all' } | { kind: 'ranges'; ranges: readonly IpCidr[] };

/** The names Fastify's trustProxy (proxy-addr) accepts for well-known ranges. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * Compiles a trustProxy setting: `false`, `true`, or a list of addresses, CIDR
 * ranges and the names `loopback`, `linklocal`, `uniquelocal` (what
 * `parseTrustProxy` in the config schema accepts). Throws on an entry that is
 * none of these: the config schema has refused it already, so it is a programming error.
 */
export function compileProxyTrust(setting: boolean | readonly string[]): ProxyTrust {
  if (setting === false) return { kind: 'none' };
  if (setting === true) return { kind: 'all' };
  const ranges: IpCidr[] = [];
  for (const entry of setting) {
    for (const text of NAMED_RANGES[entry] ?? [entry]) {
      const cidr = parseCidr(text.includes('/') ? text : hostRange(text));
      if (cidr === null) throw new Error(`invalid trusted proxy ${JSON.stringify(entry)}`);
      ranges.push(cidr);
    }
  }
  return ranges.length === 0 ? { kind: 'none' } : { kind: 'ranges', ranges };
}

/**
 * The client address of a request, as Fastify's `request.ip` gives it under the
 * same trustProxy setting: the socket's peer, unless that peer is a trusted proxy;
 * then X-Forwarded-For is read from the right, each trusted hop giving way to the
 * address it names, and the first untrusted one (or the leftmost) is the client.
 * An entry that is not an IP address is never trusted (and, as with Fastify, comes
 * back as it is; nothing stores it). IPv4-mapped IPv6 addresses match IPv4 ranges.
 */
export function resolveClientIp(
  socketAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: ProxyTrust,
): string | undefined {
  if (trust.kind === 'none' || typeof forwardedFor !== 'string') return socketAddress;
  const hops = forwardedFor
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => hop.length > 0);
  let client = socketAddress;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isTrusted(client, trust)) return client;
    client = hops[i];
  }
  return client;
}

/** `10.0.0.1` -> `10.0.0.1/32`; an address that does not parse stays as it is (and fails to compile). */
function hostRange(text: string): string {
  const ip = parseIpAddress(text);
  return ip === null ? text : `${formatIpAddress(ip)}/${ip.family === 4 ? 32 : 128}`;
}

function isTrusted(address: string | undefined, trust: ProxyTrust): boolean {
  switch (trust.kind) {
    case 'none':
      return false;
    case 'all':
      return true;
    case 'ranges': {
      const parsed = parseIpAddress(address);
      return parsed !== null && trust.ranges.some((range) => isIpInCidr(parsed, range));
    }
  }
}
