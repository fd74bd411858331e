import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { type IpAddress, type IpCidr, isIpInCidr, parseCidr, parseIpAddress } from '../../common/ip-address.util';

/** Why an outbound request did not succeed. `refused`: the guard stopped it (never retried). */
export type OutboundErrorKind = 'refused' | 'failed';

export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

export interface OutboundOptions {
  /** `host` or `host:port` entries that may be reached although private or loopback (config.outboundAllowHosts). */
  allowHosts: readonly string[];
  timeoutMs?: number;
  /** Response bytes read at most (the rest is dropped). */
  maxResponseBytes?: number;
  /** DNS resolution (tests); default node:dns lookup with every address. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
}

export interface OutboundResponse {
  status: number;
  body: string;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024;

/** Ranges never reached from here unless allowed, checked in order (the first match names the reason). */
const FORBIDDEN_RANGES: readonly (readonly [IpCidr, string])[] = (
  [
    ['0.0.0.0/8', 'an unspecified ("this network") address'],
    ['10.0.0.0/8', 'a private address'],
    ['100.64.0.0/10', 'a carrier-grade NAT (CGNAT) address'],
    ['127.0.0.0/8', 'a loopback address'],
    ['169.254.0.0/16', 'a link-local address'],
    ['172.16.0.0/12', 'a private address'],
    ['192.0.0.0/24', 'an IETF protocol assignment address'],
    ['192.0.2.0/24', 'a documentation address'],
    ['192.168.0.0/16', 'a private address'],
    ['198.18.0.0/15', 'a benchmarking address'],
    ['198.51.100.0/24', 'a documentation address'],
    ['203.0.113.0/24', 'a documentation address'],
    ['224.0.0.0/4', 'a multicast address'],
    ['240.0.0.0/4', 'a reserved or broadcast address'],
    ['::/128', 'an unspecified address'],
    ['::1/128', 'a loopback address'],
    ['fc00::/7', 'a unique-local address'],
    ['fe80::/10', 'a link-local address'],
    ['fec0::/10', 'a site-local address'],
    ['ff00::/8', 'a multicast address'],
    ['100::/64', 'a discard-only address'],
    ['2001:db8::/32', 'a documentation address'],
    ['::/96', 'an IPv4-compatible (deprecated) address'],
  ] as const
).map(([cidr, reason]) => [parseCidr(cidr)!, reason] as const);

/** 64:ff9b::a.b.c.d (NAT64) carries an IPv4 address in its last 4 bytes. */
const NAT64 = parseCidr('64:ff9b::/96')!;
/** 2002:AABB:CCDD::/48 (6to4) carries AA.BB.CC.DD in bytes 2-5. */
const SIX_TO_FOUR = parseCidr('2002::/16')!;

/**
 * Why an address must not be reached from here (private, loopback, link-local, unique-local,
 * CGNAT, multicast, unspecified, reserved), or null for a public address. IPv4-mapped and
 * NAT64 / 6to4 IPv6 addresses are judged by the IPv4 address they carry.
 */
export function forbiddenAddressReason(address: string): string | null {
  const ip = parseIpAddress(address);
  return ip === null ? 'not an IP address' : reasonFor(ip);
}

function reasonFor(ip: IpAddress): string | null {
  // IPv4-mapped addresses (::ffff:a.b.c.d) already parse as the IPv4 address inside.
  if (isIpInCidr(ip, NAT64)) return reasonFor({ family: 4, bytes: ip.bytes.slice(12, 16) });
  if (isIpInCidr(ip, SIX_TO_FOUR)) return reasonFor({ family: 4, bytes: ip.bytes.slice(2, 6) });
  return FORBIDDEN_RANGES.find(([cidr]) => isIpInCidr(ip, cidr))?.[1] ?? null;
}

/** Whether `host` (or `host:port`) is on the allow list; IPv6 hosts may be written with or without brackets. */
export function isAllowedHost(allowHosts: readonly string[], host: string, port: number): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  const forms = new Set([bare, `${bare}:${port}`, `[${bare}]`, `[${bare}]:${port}`]);
  return allowHosts.some((entry) => forms.has(entry.toLowerCase()));
}

const systemResolve = (host: string): Promise<LookupAddress[]> =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/**
 * Resolves the URL's host and vets every address; answers the address to connect to.
 * Throws `OutboundError('refused')` when any address is forbidden (a name that resolves to
 * one public and one private address is refused too) unless the host is allowed.
 */
export async function vetTarget(
  url: URL,
  options: Pick<OutboundOptions, 'allowHosts' | 'resolve'>,
): Promise<LookupAddress> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new OutboundError('refused', `refused: scheme ${url.protocol} is not http or https`);
  }
  if (url.username || url.password) throw new OutboundError('refused', 'refused: credentials in the URL');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const literal = isIP(host);
  let addresses: LookupAddress[];
  if (literal !== 0) addresses = [{ address: host, family: literal }];
  else {
    try {
      addresses = await (options.resolve ?? systemResolve)(host);
    } catch (error) {
      throw new OutboundError('failed', `DNS lookup of ${host} failed: ${(error as Error).message}`);
    }
  }
  if (addresses.length === 0) throw new OutboundError('failed', `DNS lookup of ${host} found no address`);
  if (!isAllowedHost(options.allowHosts, host, port)) {
    for (const a of addresses) {
      const reason = forbiddenAddressReason(a.address);
      if (reason !== null) throw new OutboundError('refused', `refused: ${a.address} is ${reason}`);
    }
  }
  return addresses[0]!;
}

/**
 * POSTs JSON to a webhook URL with the SSRF guard: the host is resolved once and every
 * address vetted, and the connection goes to the vetted address (no second lookup);
 * redirects are not followed (3xx is a failure); the whole exchange is bounded in time and
 * only a small part of the response is read. Resolves for a 2xx answer, else throws an
 * `OutboundError` (`refused` never goes anywhere; `failed` may be retried).
 */
export async function postJson(target: string, payload: unknown, options: OutboundOptions): Promise<OutboundResponse> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new OutboundError('refused', 'refused: not a valid URL');
  }
  const vetted = await vetTarget(url, options);
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const limit = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [vetted]);
    } else callback(null, vetted.address, vetted.family);
  };
  const client = url.protocol === 'https:' ? https : http;

  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const finish = (error: OutboundError | null, response?: OutboundResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(response!);
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        lookup: pinned,
        agent: false,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': String(body.length),
          'user-agent': 'Tend-Handoffs/1',
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const text = Buffer.concat(chunks).toString('utf8').slice(0, limit);
          if (status >= 200 && status < 300) finish(null, { status, body: text });
          else if (status >= 300 && status < 400) {
            finish(new OutboundError('failed', `HTTP ${status}: redirects are not followed`, status));
          } else finish(new OutboundError('failed', `HTTP ${status}: ${text.slice(0, 200)}`.trim(), status));
          response.destroy();
        };
        response.on('data', (chunk: Buffer) => {
          if (size >= limit) return;
          chunks.push(chunk);
          size += chunk.length;
          if (size >= limit) done();
        });
        response.on('end', done);
        response.on('error', (error) => finish(new OutboundError('failed', `response: ${error.message}`, status)));
      },
    );
    const timer = setTimeout(() => {
      finish(new OutboundError('failed', `timed out after ${timeoutMs} ms`));
      request.destroy();
    }, timeoutMs);
    request.on('error', (error) => finish(new OutboundError('failed', `request: ${error.message}`)));
    request.end(body);
  });
}
