import type { TierThreshold, TrackingKey } from './config.schema';

export type Role = 'all' | 'api' | 'worker';
export type MailTransportKind = 'outbox' | 'smtp' | 'sendgrid';

/** Typed configuration, validated once at boot. Inject with `@Inject(APP_CONFIG)`. */
export interface AppConfig {
  env: 'development' | 'production' | 'test';
  role: Role;
  http: {
    port: number;
    host: string;
    /**
     * Listen with SO_REUSEPORT: a new instance can bind the port while the old one still
     * serves, for restarts that refuse no connection (start the new one, then SIGTERM the old).
     */
    reusePort: boolean;
    publicBaseUrl: string;
    jsonBodyLimitBytes: number;
    /**
     * Fastify's `trustProxy`: which peers may set X-Forwarded-For. `false` (default): the
     * socket address is the client; `true`: any peer; else the proxies' addresses and ranges.
     */
    trustProxy: boolean | string[];
  };
  database: { kind: 'embedded'; dataDir: string } | { kind: 'postgres'; url: string; poolSize: number };
  dataDir: string;
  /** Scenario files the worker loads (`scenarios/`). */
  scenariosDir: string;
  /** The executor of due scenario steps (worker role). */
  scenarioRuntime: {
    /** How long a claimed batch is leased; a worker that dies loses its batch after this. */
    leaseMs: number;
    /** Due enrollments claimed at once; a batch must finish within its lease. */
    batchSize: number;
  };
  /** CSM handoffs. */
  handoffs: {
    /** Fallback team queue (CSM external ids), round-robin, for accounts without an owner. */
    queue: string[];
    /** The CSM (external id) escalations also go to. */
    lead: string | undefined;
    /** Time to acknowledge, by priority (ms); past it the handoff escalates. */
    dueMs: Record<'low' | 'normal' | 'high' | 'urgent', number>;
    /** Reasons whose handoffs do not hold advertising mail. */
    noHoldReasons: string[];
    /** A team-wide Slack-compatible incoming webhook (besides each CSM's own). */
    webhookUrl: string | undefined;
    /** Priorities whose CSM mail goes out as one daily digest instead of at once. */
    digestPriorities: string[];
    /** When the daily digest goes out, in DEFAULT_TIMEZONE (HH:MM). */
    digestAt: string;
  };
  /** Hosts outbound requests (webhooks) may reach although private or loopback: development and tests only. */
  outboundAllowHosts: string[];
  tracking: {
    keys: TrackingKey[];
    gracePeriodMs: number;
    /** Origins of the customer's own sites: CORS for the snippet, identity parameter on links there. */
    siteOrigins: string[];
    honorDoNotTrack: boolean;
    ipMode: 'truncate' | 'hash';
    /** Key of the IP hash (hash mode); unset: derived from the oldest TRACKING_SECRET key. */
    ipHashSecret: string | undefined;
    retentionMs: number;
    bufferMax: number;
    /** Estimated bytes the hit buffer holds at most (site events can be large). */
    bufferMaxBytes: number;
    flushIntervalMs: number;
    recordLimitPerMinute: number;
    /** Site events recorded per client address a minute (the snippet's visitor id is the client's to choose). */
    siteLimitPerClientMinute: number;
  };
  /** SHA-256 hex digests of accepted admin API keys; plaintext keys are never kept. */
  adminApiKeyHashes: string[];
  mail: {
    transport: MailTransportKind;
    from: string;
    outboxDir: string;
    smtpUrl: string | undefined;
    sendgridApiKey: string | undefined;
    /** Tests point @sendgrid/mail at a local stand-in. */
    sendgridApiBaseUrl: string | undefined;
    /** Base64 DER (or PEM) ECDSA public key of SendGrid's signed event webhook. */
    sendgridWebhookPublicKey: string | undefined;
    ratePerSecond: number;
    smtpPoolSize: number;
    dkim: { domain: string; selector: string; privateKeyFile: string } | undefined;
    unsubscribeMailto: string | undefined;
    /** Legal sender block of advertising mail (特定電子メール法). */
    sender: { name: string; postalAddress: string; contact: string };
    caps: { advertisingPerContact7d: number; advertisingPerAccountDay: number };
    /** Local times in the recipient's zone when no mail is sent, e.g. { start: '20:00', end: '09:00' }. */
    quietHours: { start: string; end: string };
    /** `advertising`: quiet hours and business days hold advertising mail only; `all`: operational mail too. */
    quietHoursScope: 'advertising' | 'all';
    /** Email tracking for contacts whose own setting is null: opens and clicks, clicks only, or none. */
    trackingDefault: 'full' | 'clicks' | 'none';
    /** Luxon weekday numbers (1 = Monday) on which mail may go. */
    businessDays: number[];
  };
  defaults: { timeZone: string; locale: 'ja' | 'en' };
  /** What scenario facts are computed with (see src/scenarios/core/facts/fact-context.ts). */
  facts: {
    /** ARR thresholds by ISO currency; accounts without ARR or thresholds are tech-touch. */
    tierThresholds: Record<string, TierThreshold>;
    /** Onboarding: the first N days after the contract start. */
    onboardingDays: number;
    /** Renewal: the last M days before the renewal date (and after it, while overdue). */
    renewalWindowDays: number;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; pretty: boolean };
  /** `maxDurationMs`: the whole body must arrive within it (the import holds a transaction meanwhile). */
  import: { maxRows: number; maxBytes: number; maxDurationMs: number };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
