import { isIP } from 'node:net';
import { z } from 'zod';
import { isValidTimeZone } from '../common/time-zone.util';

/** Durations written like `30d`, `12h`, `15m`, `45s`, parsed to milliseconds. */
export const durationSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30d, 12h, 15m or 45s')
  .transform(parseDurationMs);

export function parseDurationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const value = Number(match[1]);
  const unit = match[2] as 'ms' | 's' | 'm' | 'h' | 'd';
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit];
  return value * factor;
}

const timeZoneSchema = z.string().refine(isValidTimeZone, 'must be an IANA time zone such as Asia/Tokyo');

/** A comma-separated list whose every entry matches `pattern`. */
function listSchema(pattern: RegExp, what: string, fallback = '') {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const items = text
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0);
      const bad = items.find((v) => !pattern.test(v));
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `'${bad}' is not valid: ${what}` });
        return z.NEVER;
      }
      return items;
    });
}

export const HANDOFF_PRIORITY_NAMES = ['low', 'normal', 'high', 'urgent'] as const;

/** `urgent=1h,high=4h,normal=1d,low=3d`: how long a CSM has to acknowledge, per priority. */
export function parseHandoffDue(text: string): Record<(typeof HANDOFF_PRIORITY_NAMES)[number], number> | string {
  const due: Partial<Record<(typeof HANDOFF_PRIORITY_NAMES)[number], number>> = {};
  for (const entry of text.split(',').map((e) => e.trim())) {
    const [name, duration] = entry.split('=');
    const ms = durationSchema.safeParse(duration);
    if (!HANDOFF_PRIORITY_NAMES.includes(name as never) || !ms.success)
      return `'${entry}' must be <priority>=<duration>, e.g. high=4h`;
    due[name as (typeof HANDOFF_PRIORITY_NAMES)[number]] = ms.data;
  }
  const missing = HANDOFF_PRIORITY_NAMES.filter((p) => due[p] === undefined);
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  return due as Record<(typeof HANDOFF_PRIORITY_NAMES)[number], number>;
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/**
 * One tracking key: `kid:secret` (the current signing key comes first) or
 * `kid:secret@retiredAtISO` for an old key still accepted during the grace period.
 */
export interface TrackingKey {
  kid: string;
  secret: string;
  retiredAt: Date | null;
}

export function parseTrackingKeys(text: string): TrackingKey[] | string {
  const keys: TrackingKey[] = [];
  for (const [index, raw] of text.split(',').entries()) {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    const at = entry.lastIndexOf('@');
    const kid = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1, at > colon ? at : undefined) : '';
    const retired = at > colon ? entry.slice(at + 1) : undefined;
    if (!kid || !secret) return `entry ${index + 1} must be kid:secret or kid:secret@retiredAtISO`;
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(kid))
      return `entry ${index + 1}: key id must be 1-16 characters of A-Z a-z 0-9 _ -`;
    if (secret.length < 32) return `entry ${index + 1} (${kid}): secret must be at least 32 characters`;
    let retiredAt: Date | null = null;
    if (retired !== undefined) {
      retiredAt = new Date(retired);
      if (Number.isNaN(retiredAt.getTime())) return `entry ${index + 1} (${kid}): retiredAt is not an ISO date`;
    }
    keys.push({ kid, secret, retiredAt });
  }
  if (keys.length === 0) return 'at least one key is required';
  if (keys[0]?.retiredAt) return 'the first key signs new tokens and cannot be retired';
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) return 'key ids must be unique';
  return keys;
}

/** ARR thresholds of one currency: ARR >= highTouch is high-touch, >= midTouch mid-touch, else tech-touch. */
export interface TierThreshold {
  highTouch: number;
  midTouch: number;
}

/**
 * `TIER_THRESHOLDS`: `currency:highTouchMin:midTouchMin` entries, comma-separated, e.g.
 * `JPY:10000000:3000000,USD:100000:30000`. Empty: every account is tech-touch.
 * Returns the thresholds by currency, or a message.
 */
export function parseTierThresholds(text: string): Record<string, TierThreshold> | string {
  const thresholds: Record<string, TierThreshold> = {};
  const value = text.trim();
  if (value === '') return thresholds;
  for (const [index, raw] of value.split(',').entries()) {
    const entry = raw.trim();
    const match = /^([A-Z]{3}):(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match) {
      return `entry ${index + 1} (${JSON.stringify(entry)}) must be CURRENCY:highTouchMin:midTouchMin, e.g. JPY:10000000:3000000`;
    }
    const [, currency, high, mid] = match as unknown as [string, string, string, string];
    const highTouch = Number(high);
    const midTouch = Number(mid);
    if (highTouch < midTouch)
      return `entry ${index + 1} (${currency}): the high-touch minimum must be >= the mid-touch minimum`;
    if (Object.hasOwn(thresholds, currency)) return `entry ${index + 1}: ${currency} is listed twice`;
    thresholds[currency] = { highTouch, midTouch };
  }
  return thresholds;
}

/** Names proxy-addr (Fastify's trustProxy) understands for well-known ranges. */
const TRUST_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `TRUST_PROXY`: which peers may tell Tend the client address in X-Forwarded-For
 * (and the scheme and host in X-Forwarded-Proto / -Host). `false`: none, the socket
 * address is the client. `true`: any peer, for a Tend reachable only through a proxy
 * that overwrites the header. Otherwise a comma list of proxy addresses, CIDR ranges,
 * or `loopback`, `linklocal`, `uniquelocal`. A hop count is refused: Fastify 5 ignores
 * hop-count trust (it cannot check the nearest peer, so a client could spoof the header).
 * Returns the value for Fastify's `trustProxy` option, or a message.
 */
export function parseTrustProxy(text: string): { trustProxy: boolean | string[] } | { error: string } {
  const value = text.trim();
  if (value === '' || value.toLowerCase() === 'false') return { trustProxy: false };
  if (value.toLowerCase() === 'true') return { trustProxy: true };
  if (/^\d+$/.test(value)) {
    return {
      error:
        'a hop count is not accepted (Fastify ignores it, as it cannot tell a proxy from a client); list the proxy addresses or ranges, e.g. 10.0.0.0/8,loopback',
    };
  }
  const entries = value.split(',').map((entry) => entry.trim());
  for (const [index, entry] of entries.entries()) {
    if (!isTrustedProxyEntry(entry)) {
      return {
        error: `entry ${index + 1} (${JSON.stringify(entry)}) must be true, false, an IP address, a CIDR range such as 10.0.0.0/8, or loopback, linklocal, uniquelocal`,
      };
    }
  }
  return { trustProxy: entries };
}

function isTrustedProxyEntry(entry: string): boolean {
  if (TRUST_PROXY_NAMES.includes(entry)) return true;
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  // IPv4-mapped IPv6 ranges are written as the IPv4 range they map.
  if (family === 0 || /^::ffff:/i.test(address)) return false;
  if (slash < 0) return true;
  const prefix = entry.slice(slash + 1);
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Raw environment: every setting Tend reads, documented in .env.example. */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    ROLE: z.enum(['all', 'api', 'worker']).default('all'),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    HOST: z.string().default('127.0.0.1'),
    HTTP_REUSE_PORT: z.stringbool().default(false),
    TRUST_PROXY: z
      .string()
      .default('false')
      .transform((text, ctx) => {
        const parsed = parseTrustProxy(text);
        if ('error' in parsed) {
          ctx.addIssue({ code: 'custom', message: parsed.error });
          return z.NEVER;
        }
        return parsed.trustProxy;
      }),
    PUBLIC_BASE_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
        .optional(),
    ),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    DATA_DIR: z.string().default('./data'),
    TRACKING_SECRET: optionalString,
    TRACKING_KEY_GRACE_PERIOD: durationSchema.default(parseDurationMs('30d')),
    ADMIN_API_KEY: optionalString,
    SITE_ORIGINS: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((o) => o.trim())
          .filter((o) => o.length > 0),
      )
      .pipe(
        z.array(
          z.url({ protocol: /^https?$/, message: 'each entry must be an origin such as https://www.example.com' }),
        ),
      ),
    TRACKING_HONOR_DNT: z.stringbool().default(true),
    TRACKING_IP_MODE: z.enum(['truncate', 'hash']).default('truncate'),
    TRACKING_IP_HASH_SECRET: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
    TRACKING_RETENTION: durationSchema.default(parseDurationMs('395d')),
    TRACKING_BUFFER_MAX: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
    TRACKING_BUFFER_MAX_BYTES: z.coerce.number().int().min(1_048_576).max(17_179_869_184).default(134_217_728),
    TRACKING_FLUSH_INTERVAL: durationSchema.default(parseDurationMs('250ms')),
    TRACKING_RECORD_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(20),
    TRACKING_SITE_LIMIT_PER_CLIENT_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(300),
    MAIL_TRANSPORT: z.enum(['outbox', 'smtp', 'sendgrid']).default('outbox'),
    MAIL_FROM: optionalString,
    OUTBOX_DIR: z.string().default('./outbox'),
    SCENARIOS_DIR: z.string().default('./scenarios'),
    // A batch must finish within its lease: past it, another worker may take over the rest.
    SCENARIO_LEASE_MS: z.coerce
      .number({ message: 'must be a whole number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(1_000)
      .max(3_600_000)
      .default(60_000),
    SCENARIO_BATCH_SIZE: z.coerce
      .number({ message: 'must be a whole number' })
      .int('must be a whole number')
      .min(1)
      .max(10_000)
      .default(200),
    // CSM handoffs (issue #7).
    HANDOFF_QUEUE: listSchema(/^[A-Za-z0-9_.:@-]{1,200}$/, 'CSM external ids, comma-separated'),
    HANDOFF_LEAD: optionalString,
    HANDOFF_DUE: z
      .string()
      .default('urgent=1h,high=4h,normal=1d,low=3d')
      .transform((text, ctx) => {
        const parsed = parseHandoffDue(text);
        if (typeof parsed === 'string') {
          ctx.addIssue({ code: 'custom', message: parsed });
          return z.NEVER;
        }
        return parsed;
      }),
    HANDOFF_NO_HOLD_REASONS: listSchema(/^[a-z0-9_]{1,64}$/, 'reason codes (a-z, 0-9, _), comma-separated'),
    HANDOFF_WEBHOOK_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    HANDOFF_DIGEST_PRIORITIES: listSchema(
      /^(low|normal|high|urgent)$/,
      'priorities (low, normal, high, urgent)',
      'low',
    ),
    HANDOFF_DIGEST_AT: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
      .default('09:00'),
    OUTBOUND_ALLOW_HOSTS: listSchema(/^[A-Za-z0-9.:[\]-]+$/, 'host or host:port entries, comma-separated'),
    SMTP_URL: optionalString,
    SENDGRID_API_KEY: optionalString,
    MAIL_RATE_PER_SECOND: z.coerce.number().min(0.1).max(10_000).default(50),
    SMTP_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(2),
    SENDGRID_API_BASE_URL: optionalString.pipe(z.url().optional()),
    SENDGRID_WEBHOOK_PUBLIC_KEY: optionalString,
    DKIM_DOMAIN: optionalString,
    DKIM_SELECTOR: optionalString,
    DKIM_PRIVATE_KEY_FILE: optionalString,
    UNSUBSCRIBE_MAILTO: optionalString.pipe(z.email().optional()),
    SENDER_NAME: optionalString,
    SENDER_POSTAL_ADDRESS: optionalString,
    SENDER_CONTACT: optionalString,
    CAP_ADVERTISING_PER_CONTACT_7D: z.coerce.number().int().min(0).max(1000).default(3),
    CAP_ADVERTISING_PER_ACCOUNT_DAY: z.coerce.number().int().min(0).max(10_000).default(10),
    QUIET_HOURS: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM-HH:MM, e.g. 20:00-09:00')
      .default('20:00-09:00'),
    BUSINESS_DAYS: z
      .string()
      .regex(
        /^(mon|tue|wed|thu|fri|sat|sun)(,(mon|tue|wed|thu|fri|sat|sun))*$/,
        'must be a list such as mon,tue,wed,thu,fri',
      )
      .default('mon,tue,wed,thu,fri'),
    QUIET_HOURS_SCOPE: z.enum(['advertising', 'all']).default('advertising'),
    EMAIL_TRACKING_DEFAULT: z.enum(['full', 'clicks', 'none']).default('full'),
    TIER_THRESHOLDS: z
      .string()
      .default('JPY:10000000:3000000,USD:100000:30000')
      .transform((text, ctx) => {
        const parsed = parseTierThresholds(text);
        if (typeof parsed === 'string') {
          ctx.addIssue({ code: 'custom', message: parsed });
          return z.NEVER;
        }
        return parsed;
      }),
    ONBOARDING_DAYS: z.coerce
      .number({ message: 'must be a whole number of days' })
      .int('must be a whole number of days')
      .min(0)
      .max(3650)
      .default(90),
    RENEWAL_WINDOW_DAYS: z.coerce
      .number({ message: 'must be a whole number of days' })
      .int('must be a whole number of days')
      .min(0)
      .max(3650)
      .default(90),
    DEFAULT_TIMEZONE: timeZoneSchema.default('Asia/Tokyo'),
    DEFAULT_LOCALE: z.enum(['ja', 'en']).default('ja'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_PRETTY: z.stringbool().default(false),
    IMPORT_MAX_ROWS: z.coerce.number().int().min(1).max(1_000_000).default(100_000),
    IMPORT_MAX_DURATION: durationSchema.default(parseDurationMs('15m')),
    IMPORT_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(200 * 1024 * 1024),
    JSON_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(2 * 1024 * 1024),
  })
  .superRefine(
    (env, ctx) => {
      const production = env.DATABASE_URL !== undefined || env.NODE_ENV === 'production';
      const need = (key: keyof typeof env, why: string) => {
        if (env[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `is required ${why}` });
      };
      if (production) {
        need(
          'TRACKING_SECRET',
          'when DATABASE_URL is set (production); generate one per key with `openssl rand -base64 48`',
        );
        need('ADMIN_API_KEY', 'when DATABASE_URL is set (production)');
        need('PUBLIC_BASE_URL', 'when DATABASE_URL is set (production)');
        need('MAIL_FROM', 'when DATABASE_URL is set (production)');
        // 特定電子メール法: advertising mail names its sender, postal address and a contact point.
        for (const key of ['SENDER_NAME', 'SENDER_POSTAL_ADDRESS', 'SENDER_CONTACT'] as const) {
          need(key, 'when DATABASE_URL is set (production): the legal sender block of advertising mail');
        }
      }
      if (env.MAIL_TRANSPORT === 'smtp') need('SMTP_URL', 'when MAIL_TRANSPORT=smtp');
      if (env.MAIL_TRANSPORT === 'sendgrid') need('SENDGRID_API_KEY', 'when MAIL_TRANSPORT=sendgrid');
      const dkim = [env.DKIM_DOMAIN, env.DKIM_SELECTOR, env.DKIM_PRIVATE_KEY_FILE].filter(
        (v) => v !== undefined,
      ).length;
      if (dkim !== 0 && dkim !== 3) {
        ctx.addIssue({
          code: 'custom',
          path: ['DKIM_DOMAIN'],
          message: 'DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE go together',
        });
      }
      if (env.TRACKING_SECRET !== undefined) {
        const parsed = parseTrackingKeys(env.TRACKING_SECRET);
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: ['TRACKING_SECRET'], message: parsed });
      }
      if (env.ADMIN_API_KEY !== undefined) {
        for (const key of env.ADMIN_API_KEY.split(',').map((k) => k.trim())) {
          if (key.startsWith('sha256:') ? !/^sha256:[0-9a-f]{64}$/.test(key) : key.length < 24) {
            ctx.addIssue({
              code: 'custom',
              path: ['ADMIN_API_KEY'],
              message: 'each key must be at least 24 characters, or sha256:<64 hex digits> of one',
            });
            break;
          }
        }
      }
    },
    // Run even when single fields failed, so one boot error lists every problem.
    { when: () => true },
  );

export type RawEnv = z.infer<typeof envSchema>;
