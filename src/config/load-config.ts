import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import type { AppConfig } from './app-config';
import { envSchema, parseTrackingKeys } from './config.schema';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    );
    this.name = 'ConfigError';
  }
}

export function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
}

interface GeneratedSecrets {
  trackingSecret: string;
  adminApiKey: string;
}

/**
 * The embedded trial needs no settings: secrets it needs are generated once and
 * kept (mode 0600) in the data directory so tokens and keys survive restarts.
 */
export function loadOrCreateEmbeddedSecrets(dataDir: string): GeneratedSecrets & { file: string; created: boolean } {
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<GeneratedSecrets>;
    if (typeof parsed.trackingSecret === 'string' && typeof parsed.adminApiKey === 'string') {
      return { trackingSecret: parsed.trackingSecret, adminApiKey: parsed.adminApiKey, file, created: false };
    }
    throw new ConfigError([`${file}: is not a valid secrets file; move it away to generate new secrets`]);
  }
  mkdirSync(dataDir, { recursive: true });
  const secrets: GeneratedSecrets = {
    trackingSecret: `k1:${randomBytes(36).toString('base64url')}`,
    adminApiKey: `tend_${randomBytes(24).toString('base64url')}`,
  };
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { ...secrets, file, created: true };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface LoadedConfig {
  config: AppConfig;
  /** Set when the embedded secrets file was written by this boot. */
  generatedSecretsFile: string | undefined;
}

/** Validates every setting at once; throws ConfigError listing all problems. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const result = envSchema.safeParse(env);
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues));
  const raw = result.data;
  const dataDir = resolve(raw.DATA_DIR);
  let trackingSecret = raw.TRACKING_SECRET;
  let adminApiKey = raw.ADMIN_API_KEY;
  let generatedSecretsFile: string | undefined;
  if (trackingSecret === undefined || adminApiKey === undefined) {
    const secrets = loadOrCreateEmbeddedSecrets(dataDir);
    trackingSecret ??= secrets.trackingSecret;
    adminApiKey ??= secrets.adminApiKey;
    if (secrets.created) generatedSecretsFile = secrets.file;
  }
  const keys = parseTrackingKeys(trackingSecret);
  if (typeof keys === 'string') throw new ConfigError([`TRACKING_SECRET: ${keys}`]);
  const config: AppConfig = {
    env: raw.NODE_ENV,
    role: raw.ROLE,
    http: {
      port: raw.PORT,
      host: raw.HOST,
      publicBaseUrl: (raw.PUBLIC_BASE_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, ''),
      jsonBodyLimitBytes: raw.JSON_BODY_LIMIT_BYTES,
      trustProxy: raw.TRUST_PROXY,
    },
    database:
      raw.DATABASE_URL === undefined
        ? { kind: 'embedded', dataDir }
        : { kind: 'postgres', url: raw.DATABASE_URL, poolSize: raw.DATABASE_POOL_SIZE },
    dataDir,
    tracking: {
      keys,
      gracePeriodMs: raw.TRACKING_KEY_GRACE_PERIOD,
      siteOrigins: raw.SITE_ORIGINS.map((o) => new URL(o).origin),
      honorDoNotTrack: raw.TRACKING_HONOR_DNT,
      ipMode: raw.TRACKING_IP_MODE,
      retentionMs: raw.TRACKING_RETENTION,
      bufferMax: raw.TRACKING_BUFFER_MAX,
      flushIntervalMs: raw.TRACKING_FLUSH_INTERVAL,
      recordLimitPerMinute: raw.TRACKING_RECORD_LIMIT_PER_MINUTE,
    },
    adminApiKeyHashes: adminApiKey
      .split(',')
      .map((k) => k.trim())
      .map((k) => (k.startsWith('sha256:') ? k.slice('sha256:'.length) : hashApiKey(k))),
    mail: {
      transport: raw.MAIL_TRANSPORT,
      from: raw.MAIL_FROM ?? 'Tend <no-reply@localhost>',
      outboxDir: resolve(raw.OUTBOX_DIR),
      smtpUrl: raw.SMTP_URL,
      sendgridApiKey: raw.SENDGRID_API_KEY,
      sendgridApiBaseUrl: raw.SENDGRID_API_BASE_URL,
      sendgridWebhookPublicKey: raw.SENDGRID_WEBHOOK_PUBLIC_KEY,
      ratePerSecond: raw.MAIL_RATE_PER_SECOND,
      smtpPoolSize: raw.SMTP_POOL_SIZE,
      dkim:
        raw.DKIM_DOMAIN && raw.DKIM_SELECTOR && raw.DKIM_PRIVATE_KEY_FILE
          ? { domain: raw.DKIM_DOMAIN, selector: raw.DKIM_SELECTOR, privateKeyFile: raw.DKIM_PRIVATE_KEY_FILE }
          : undefined,
      unsubscribeMailto: raw.UNSUBSCRIBE_MAILTO,
      sender: { name: raw.SENDER_NAME, postalAddress: raw.SENDER_POSTAL_ADDRESS, contact: raw.SENDER_CONTACT },
      caps: {
        advertisingPerContact7d: raw.CAP_ADVERTISING_PER_CONTACT_7D,
        advertisingPerAccountDay: raw.CAP_ADVERTISING_PER_ACCOUNT_DAY,
      },
      quietHours: { start: raw.QUIET_HOURS.slice(0, 5), end: raw.QUIET_HOURS.slice(6) },
      quietHoursScope: raw.QUIET_HOURS_SCOPE,
      trackingDefault: raw.EMAIL_TRACKING_DEFAULT,
      businessDays: raw.BUSINESS_DAYS.split(',').map(
        (d) => ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].indexOf(d) + 1,
      ),
    },
    defaults: { timeZone: raw.DEFAULT_TIMEZONE, locale: raw.DEFAULT_LOCALE },
    log: { level: raw.LOG_LEVEL, pretty: raw.LOG_PRETTY },
    import: { maxRows: raw.IMPORT_MAX_ROWS, maxBytes: raw.IMPORT_MAX_BYTES },
  };
  return { config, generatedSecretsFile };
}
