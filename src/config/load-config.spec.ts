import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envSchema, parseDurationMs, parseTierThresholds, parseTrackingKeys, parseTrustProxy } from './config.schema';
import { addEmbeddedApiKey, ConfigError, hashApiKey, loadConfig } from './load-config';

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tend-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('needs no settings for the embedded trial and keeps generated secrets in the data directory', () => {
    const first = loadConfig({ DATA_DIR: dir });
    expect(first.config.database).toEqual({ kind: 'embedded', dataDir: dir });
    expect(first.config.defaults).toEqual({ timeZone: 'Asia/Tokyo', locale: 'ja' });
    expect(first.config.role).toBe('all');
    expect(first.config.mail.transport).toBe('outbox');
    expect(first.generatedSecretsFile).toBe(join(dir, 'secrets.json'));
    expect(statSync(join(dir, 'secrets.json')).mode & 0o777).toBe(0o600);
    const second = loadConfig({ DATA_DIR: dir });
    expect(second.generatedSecretsFile).toBeUndefined();
    expect(second.config.tracking.keys).toEqual(first.config.tracking.keys);
    expect(second.config.adminApiKeyHashes).toEqual(first.config.adminApiKeyHashes);
    const key = first.generatedAdminApiKey ?? '';
    expect(key).toMatch(/^tend_[A-Za-z0-9_-]{32}$/);
    expect(second.generatedAdminApiKey).toBeUndefined();
    expect(first.config.adminApiKeyHashes).toEqual([hashApiKey(key)]);
    // Only the hash is kept on disk.
    const stored = readFileSync(join(dir, 'secrets.json'), 'utf8');
    expect(stored).not.toContain(key);
    expect(JSON.parse(stored)).toEqual({
      trackingSecret: expect.stringMatching(/^k1:/) as unknown,
      adminApiKeyHashes: [`sha256:${hashApiKey(key)}`],
    });
  });

  it('upgrades a secrets file that holds a plaintext key to its hash, and the key keeps working', () => {
    const legacyKey = 'tend_legacy-plaintext-key-0123456789';
    writeFileSync(
      join(dir, 'secrets.json'),
      JSON.stringify({ trackingSecret: 'k1:abcdefghijklmnopqrstuvwxyz0123456789', adminApiKey: legacyKey }),
    );
    const { config } = loadConfig({ DATA_DIR: dir });
    expect(config.adminApiKeyHashes).toEqual([hashApiKey(legacyKey)]);
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain(legacyKey);
    expect(loadConfig({ DATA_DIR: dir }).config.adminApiKeyHashes).toEqual([hashApiKey(legacyKey)]);
  });

  it('adds admin keys for `npm run admin-key`, keeping or revoking the others', () => {
    const first = loadConfig({ DATA_DIR: dir }).generatedAdminApiKey ?? '';
    const second = addEmbeddedApiKey(dir, false).key;
    expect(loadConfig({ DATA_DIR: dir }).config.adminApiKeyHashes).toEqual([hashApiKey(first), hashApiKey(second)]);
    const third = addEmbeddedApiKey(dir, true).key;
    expect(loadConfig({ DATA_DIR: dir }).config.adminApiKeyHashes).toEqual([hashApiKey(third)]);
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain(third);
  });

  it('refuses a secrets file it cannot read, naming the file', () => {
    writeFileSync(
      join(dir, 'secrets.json'),
      JSON.stringify({ trackingSecret: 'k1:x', adminApiKeyHashes: ['md5:abc'] }),
    );
    expect(() => loadConfig({ DATA_DIR: dir })).toThrow(`${join(dir, 'secrets.json')}: is not a valid secrets file`);
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({
        DATA_DIR: dir,
        PORT: 'eighty',
        ROLE: 'boss',
        DEFAULT_TIMEZONE: 'Mars/Olympus',
        MAIL_TRANSPORT: 'smtp',
      });
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('PORT');
    expect(problems).toContain('ROLE');
    expect(problems).toContain('DEFAULT_TIMEZONE');
    expect(problems).toContain('SMTP_URL: is required when MAIL_TRANSPORT=smtp');
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('requires explicit secrets in production and writes none', () => {
    expect(() => loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgres://db/tend' })).toThrow(
      /TRACKING_SECRET: is required[\s\S]*ADMIN_API_KEY: is required[\s\S]*PUBLIC_BASE_URL[\s\S]*MAIL_FROM/,
    );
    expect(existsSync(join(dir, 'secrets.json'))).toBe(false);
  });

  it('requires the legal sender block of advertising mail in production, and fills placeholders in the trial', () => {
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dir, NODE_ENV: 'production' });
    } catch (e) {
      error = e;
    }
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of ['SENDER_NAME', 'SENDER_POSTAL_ADDRESS', 'SENDER_CONTACT']) {
      expect(problems).toContain(`${key}: is required when DATABASE_URL is set (production)`);
    }
    expect(loadConfig({ DATA_DIR: dir }).config.mail.sender).toEqual({
      name: 'Tend',
      postalAddress: '(set SENDER_POSTAL_ADDRESS)',
      contact: '(set SENDER_CONTACT)',
    });
  });

  it('accepts a complete production configuration with hashed API keys', () => {
    const hash = hashApiKey('a-very-long-admin-key-for-tests');
    const { config } = loadConfig({
      DATA_DIR: dir,
      DATABASE_URL: 'postgresql://tend@db:5432/tend',
      TRACKING_SECRET: `k2:${'b'.repeat(40)},k1:${'a'.repeat(40)}@2026-10-01T00:00:00Z`,
      ADMIN_API_KEY: `sha256:${hash}`,
      PUBLIC_BASE_URL: 'https://tend.example.com/',
      MAIL_FROM: 'Acme <cs@acme.example>',
      SENDER_NAME: 'Acme株式会社',
      SENDER_POSTAL_ADDRESS: '〒100-0001 東京都千代田区千代田1-1',
      SENDER_CONTACT: 'support@acme.example',
      ROLE: 'worker',
    });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgresql://tend@db:5432/tend', poolSize: 10 });
    expect(config.adminApiKeyHashes).toEqual([hash]);
    expect(config.http.publicBaseUrl).toBe('https://tend.example.com');
    expect(config.tracking.keys.map((k) => k.kid)).toEqual(['k2', 'k1']);
    expect(config.tracking.keys[1]?.retiredAt?.toISOString()).toBe('2026-10-01T00:00:00.000Z');
    expect(config.role).toBe('worker');
    expect(config.mail.sender.name).toBe('Acme株式会社');
  });
});

describe('loadConfig: TRUST_PROXY', () => {
  it('stops the boot on a bad value and passes a good one to the HTTP settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tend-config-'));
    try {
      expect(() => loadConfig({ DATA_DIR: dir, TRUST_PROXY: 'yes' })).toThrow(/TRUST_PROXY: entry 1/);
      expect(loadConfig({ DATA_DIR: dir }).config.http.trustProxy).toBe(false);
      expect(loadConfig({ DATA_DIR: dir, TRUST_PROXY: '10.0.0.0/8' }).config.http.trustProxy).toEqual(['10.0.0.0/8']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scenario fact settings', () => {
  it('defaults to JPY and USD tiers and 90-day onboarding and renewal windows', () => {
    const env = envSchema.parse({});
    expect(env.TIER_THRESHOLDS).toEqual({
      JPY: { highTouch: 10_000_000, midTouch: 3_000_000 },
      USD: { highTouch: 100_000, midTouch: 30_000 },
    });
    expect([env.ONBOARDING_DAYS, env.RENEWAL_WINDOW_DAYS]).toEqual([90, 90]);
  });

  it('reads thresholds per currency, decimals allowed, empty for none', () => {
    expect(parseTierThresholds(' EUR:80000.5:25000 , JPY:1:0 ')).toEqual({
      EUR: { highTouch: 80_000.5, midTouch: 25_000 },
      JPY: { highTouch: 1, midTouch: 0 },
    });
    expect(parseTierThresholds('')).toEqual({});
  });

  it('stops the boot with a clear message for bad thresholds and day counts', () => {
    expect(parseTierThresholds('jpy:1:0')).toBe(
      'entry 1 ("jpy:1:0") must be CURRENCY:highTouchMin:midTouchMin, e.g. JPY:10000000:3000000',
    );
    expect(parseTierThresholds('JPY:100')).toMatch(/^entry 1 \("JPY:100"\) must be/);
    expect(parseTierThresholds('USD:1:2')).toBe(
      'entry 1 (USD): the high-touch minimum must be >= the mid-touch minimum',
    );
    expect(parseTierThresholds('USD:2:1,USD:3:1')).toBe('entry 2: USD is listed twice');
    expect(parseTierThresholds('USD:-2:1')).toMatch(/must be CURRENCY/);
    const dir = mkdtempSync(join(tmpdir(), 'tend-config-'));
    try {
      expect(() =>
        loadConfig({ DATA_DIR: dir, TIER_THRESHOLDS: 'USD:1:2', ONBOARDING_DAYS: '1.5', RENEWAL_WINDOW_DAYS: 'soon' }),
      ).toThrow(
        /TIER_THRESHOLDS: entry 1 \(USD\)[\s\S]*ONBOARDING_DAYS: must be a whole number of days[\s\S]*RENEWAL_WINDOW_DAYS: must be a whole number of days/,
      );
      const { config } = loadConfig({
        DATA_DIR: dir,
        TIER_THRESHOLDS: 'EUR:100:10',
        ONBOARDING_DAYS: '30',
        RENEWAL_WINDOW_DAYS: '0',
      });
      expect(config.facts).toEqual({
        tierThresholds: { EUR: { highTouch: 100, midTouch: 10 } },
        onboardingDays: 30,
        renewalWindowDays: 0,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scenario runtime settings', () => {
  it('leases batches of 200 due steps for 60 s by default, and takes shorter leases and other sizes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tend-config-'));
    try {
      expect(loadConfig({ DATA_DIR: dir }).config.scenarioRuntime).toEqual({ leaseMs: 60_000, batchSize: 200 });
      expect(
        loadConfig({ DATA_DIR: dir, SCENARIO_LEASE_MS: '5000', SCENARIO_BATCH_SIZE: '1000' }).config.scenarioRuntime,
      ).toEqual({ leaseMs: 5_000, batchSize: 1_000 });
      expect(() => loadConfig({ DATA_DIR: dir, SCENARIO_LEASE_MS: '500', SCENARIO_BATCH_SIZE: '0' })).toThrow(
        /SCENARIO_LEASE_MS[\s\S]*SCENARIO_BATCH_SIZE/,
      );
      expect(() => loadConfig({ DATA_DIR: dir, SCENARIO_LEASE_MS: '1m' })).toThrow(
        /SCENARIO_LEASE_MS: must be a whole number of milliseconds/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseTrackingKeys', () => {
  it('rejects short secrets, duplicate ids and a retired signing key', () => {
    expect(parseTrackingKeys('k1:short')).toMatch(/at least 32/);
    expect(parseTrackingKeys(`k1:${'a'.repeat(32)},k1:${'b'.repeat(32)}`)).toMatch(/unique/);
    expect(parseTrackingKeys(`k1:${'a'.repeat(32)}@2026-01-01`)).toMatch(/cannot be retired/);
    expect(parseTrackingKeys(`k1:${'a'.repeat(32)},k0:${'b'.repeat(32)}@nonsense`)).toMatch(/not an ISO date/);
  });
});

describe('TRUST_PROXY', () => {
  it('trusts no proxy by default', () => {
    expect(envSchema.parse({}).TRUST_PROXY).toBe(false);
  });

  it('accepts true, false, and lists of addresses, ranges and named ranges', () => {
    expect(parseTrustProxy('true')).toEqual({ trustProxy: true });
    expect(parseTrustProxy(' FALSE ')).toEqual({ trustProxy: false });
    expect(parseTrustProxy('')).toEqual({ trustProxy: false });
    expect(parseTrustProxy('10.0.0.0/8, 192.0.2.1,loopback,2001:db8::/32')).toEqual({
      trustProxy: ['10.0.0.0/8', '192.0.2.1', 'loopback', '2001:db8::/32'],
    });
  });

  it('refuses hop counts, bad ranges and anything else, at boot', () => {
    expect(parseTrustProxy('1')).toMatchObject({ error: expect.stringMatching(/hop count/) as unknown });
    expect(parseTrustProxy('10.0.0.0/33')).toMatchObject({ error: expect.stringMatching(/entry 1/) as unknown });
    expect(parseTrustProxy('10.0.0.1,proxy.internal')).toMatchObject({
      error: expect.stringMatching(/entry 2/) as unknown,
    });
    expect(parseTrustProxy('::ffff:10.0.0.0/104')).toHaveProperty('error');
  });
});

describe('parseDurationMs', () => {
  it('reads d, h, m, s and ms', () => {
    expect(parseDurationMs('30d')).toBe(30 * 86_400_000);
    expect(parseDurationMs('12h')).toBe(12 * 3_600_000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(() => parseDurationMs('3 weeks')).toThrow();
  });
});

describe('.env.example', () => {
  it('documents every setting of the schema', () => {
    const example = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const missing = Object.keys(envSchema.shape).filter((key) => key !== 'NODE_ENV' && !documented.has(key));
    expect(missing).toEqual([]);
  });
});
