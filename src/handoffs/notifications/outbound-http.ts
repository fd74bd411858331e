import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

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

type Range = [prefix: bigint, bits: number, label: string];

function v4(text: string): bigint {
  return text.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

const IPV4_RANGES: Range[] = [
  [v4('0.0.0.0'), 8, 'an unspecified ("this network") address'],
  [v4('10.0.0.0'), 8, 'a private address'],
  [v4('100.64.0.0'), 10, 'a carrier-grade NAT (CGNAT) address'],
  [v4('127.0.0.0'), 8, 'a loopback address'],
  [v4('169.254.0.0'), 16, 'a link-local address'],
  [v4('172.16.0.0'), 12, 'a private address'],
  [v4('192.0.0.0'), 24, 'an IETF protocol assignment address'],
  [v4('192.0.2.0'), 24, 'a documentation address'],
  [v4('192.168.0.0'), 16, 'a private address'],
  [v4('198.18.0.0'), 15, 'a benchmarking address'],
  [v4('198.51.100.0'), 24, 'a documentation address'],
  [v4('203.0.113.0'), 24, 'a documentation address'],
  [v4('224.0.0.0'), 4, 'a multicast address'],
  [v4('240.0.0.0'), 4, 'a reserved or broadcast address'],
];

/** The 128-bit value of an IPv6 address (with an embedded dotted IPv4 tail allowed). */
function v6(text: string): bigint {
  let address = text.split('%')[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) {
    const n = v4(dotted[1]!);
    address = `${address.slice(0, -dotted[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

const IPV6_RANGES: Range[] = [
  [0n, 128, 'an unspecified address'],
  [1n, 128, 'a loopback address'],
  [v6('fc00::'), 7, 'a unique-local address'],
  [v6('fe80::'), 10, 'a link-local address'],
  [v6('fec0::'), 10, 'a site-local address'],
  [v6('ff00::'), 8, 'a multicast address'],
  [v6('100::'), 64, 'a discard-only address'],
  [v6('2001:db8::'), 32, 'a documentation address'],
  [0n, 96, 'an IPv4-compatible (deprecated) address'],
];

function inRange(value: bigint, width: number, [prefix, bits]: Range): boolean {
  const shift = BigInt(width - bits);
  return value >> shift === prefix >> shift;
}

/**
 * Why an address must not be reached from here (private, loopback, link-local, unique-local,
 * CGNAT, multicast, unspecified, reserved), or null for a public address. IPv4-mapped and
 * NAT64 / 6to4 IPv6 addresses are judged by the IPv4 address they carry.
 */
export function forbiddenAddressReason(address: string): string | null {
  const family = isIP(address.split('%')[0]!);
  if (family === 4) {
    const n = v4(address);
    return IPV4_RANGES.find((r) => inRange(n, 32, r))?.[2] ?? null;
  }
  if (family !== 6) return 'not an IP address';
  const n = v6(address);
  // ::ffff:a.b.c.d (mapped), 64:ff9b::a.b.c.d (NAT64): the IPv4 address inside decides.
  if (n >> 32n === 0xffffn || n >> 32n === v6('64:ff9b::') >> 32n) {
    return forbiddenAddressReason(ipv4Of(n & 0xffffffffn));
  }
  // 2002:AABB:CCDD::/48 (6to4) carries AA.BB.CC.DD.
  if (n >> 112n === 0x2002n) return forbiddenAddressReason(ipv4Of((n >> 80n) & 0xffffffffn));
  return IPV6_RANGES.find((r) => inRange(n, 128, r))?.[2] ?? null;
}

function ipv4Of(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
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
