import type { TrackingKey } from './config.schema';

export type Role = 'all' | 'api' | 'worker';
export type MailTransportKind = 'outbox' | 'smtp' | 'sendgrid';

/** Typed configuration, validated once at boot. Inject with `@Inject(APP_CONFIG)`. */
export interface AppConfig {
  env: 'development' | 'production' | 'test';
  role: Role;
  http: { port: number; host: string; publicBaseUrl: string; jsonBodyLimitBytes: number };
  database: { kind: 'embedded'; dataDir: string } | { kind: 'postgres'; url: string; poolSize: number };
  dataDir: string;
  tracking: {
    keys: TrackingKey[];
    gracePeriodMs: number;
    /** Origins of the customer's own sites: CORS for the snippet, identity parameter on links there. */
    siteOrigins: string[];
    honorDoNotTrack: boolean;
    ipMode: 'truncate' | 'hash';
    retentionMs: number;
    bufferMax: number;
    flushIntervalMs: number;
    recordLimitPerMinute: number;
  };
  /** SHA-256 hex digests of accepted admin API keys; plaintext keys are never kept. */
  adminApiKeyHashes: string[];
  mail: {
    transport: MailTransportKind;
    from: string;
    outboxDir: string;
    smtpUrl: string | undefined;
    sendgridApiKey: string | undefined;
  };
  defaults: { timeZone: string; locale: 'ja' | 'en' };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; pretty: boolean };
  import: { maxRows: number; maxBytes: number };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
