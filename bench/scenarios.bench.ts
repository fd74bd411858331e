import { type DynamicModule, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { backfillUsageRollups } from '../migrations/1764400000000-usage-rollups';
import { Clock } from '../src/common/clock';
import { CoreModule, type CoreOptions } from '../src/common/core.module';
import { configureLogger } from '../src/common/logger';
import { APP_CONFIG, type AppConfig } from '../src/config/app-config';
import { loadConfig } from '../src/config/load-config';
import { openDatabase, runMigrations } from '../src/database/data-source.factory';
import { MessagingCoreModule } from '../src/messaging/messaging-core.module';
import { factSettingsFrom } from '../src/metrics/fact-settings';
import { buildPopulationQuery } from '../src/metrics/fact-sql';
import { analyzeWithCatalog } from '../src/scenarios/core/scenario-expressions';
import { type ExecutorOptions, ScenarioExecutor } from '../src/scenarios/runtime/scenario-executor';
import { ScenarioRegistry } from '../src/scenarios/runtime/scenario-registry.service';
import { ScenarioRuntimeModule } from '../src/scenarios/runtime/scenario-runtime.module';
import { audienceCondition, ScenarioTriggers } from '../src/scenarios/runtime/scenario-triggers.service';
import { ScenarioWorker } from '../src/scenarios/runtime/scenario-worker.service';
import { startTend, waitReady } from '../test/support/tend-process';
import { TEST_SENDER } from '../test/support/test-database';
import { api, BENCH_API_KEY, BENCH_TRACKING_SECRET, freePort, perSecond, stopTend } from './bench-support';

/** Data set of issue 6, point 7. */
export interface DataSetParameters {
  accounts: number;
  contacts: number;
  events: number;
  /** Events fall in this many whole UTC days before the anchor day. */
  days: number;
}

export const ISSUE_6_DATA_SET: DataSetParameters = {
  accounts: 100_000,
  contacts: 1_000_000,
  events: 20_000_000,
  days: 90,
};

/** Bump when the generator changes shape: a stored data set of another version is regenerated. */
const GENERATOR_VERSION = 2;

export interface GeneratedDataSet extends DataSetParameters {
  /** The UTC day after the last generated day: the benchmark's "today". */
  anchor: string;
  generatedAt: string;
  generationMs: number;
  /** Per step, milliseconds (stored with the marker, so reruns report them too). */
  steps?: Record<string, number>;
  reused: boolean;
  sizes?: Record<string, string>;
}

const log = (message: string) => console.log(`[scenarios] ${message}`);

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The server URL (any database) and the benchmark's own database on it. */
export function benchDatabaseUrls(): { server: string; database: string; name: string } {
  const server = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = process.env.BENCH_SCENARIOS_DATABASE ?? 'tend_bench_scenarios';
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`BENCH_SCENARIOS_DATABASE: not a plain name: ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { server, database: url.toString(), name };
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function databaseExists(server: string, name: string): Promise<boolean> {
  return withClient(
    server,
    async (c) => (await c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])).rowCount === 1,
  );
}

/** The stored data set, when a previous run completed one with these parameters. */
async function storedDataSet(database: string, wanted: DataSetParameters): Promise<GeneratedDataSet | undefined> {
  return withClient(database, async (c) => {
    const table = await c.query(`SELECT to_regclass('bench.generation') IS NOT NULL AS present`);
    if (!(table.rows[0] as { present: boolean }).present) return undefined;
    const rows = (
      await c.query(
        `SELECT parameters, anchor::text AS anchor, generated_at, generation_ms FROM bench.generation WHERE completed`,
      )
    ).rows as {
      parameters: DataSetParameters & {
        version: number;
        steps?: Record<string, number>;
        sizes?: Record<string, string>;
      };
      anchor: string;
      generated_at: Date;
      generation_ms: number;
    }[];
    const row = rows[0];
    if (!row) return undefined;
    const p = row.parameters;
    if (
      p.version !== GENERATOR_VERSION ||
      p.accounts !== wanted.accounts ||
      p.contacts !== wanted.contacts ||
      p.events !== wanted.events ||
      p.days !== wanted.days
    ) {
      return undefined;
    }
    return {
      ...wanted,
      anchor: row.anchor,
      generatedAt: row.generated_at.toISOString(),
      generationMs: row.generation_ms,
      ...(p.steps ? { steps: p.steps } : {}),
      ...(p.sizes ? { sizes: p.sizes } : {}),
      reused: true,
    };
  });
}

/**
 * The benchmark's database with the issue's data set: reused when a previous run completed
 * it with the same parameters (a marker row in `bench.generation`), else dropped, created,
 * migrated with the project's migrations and generated. Only this database is ever dropped.
 */
export async function prepareDataSet(
  parameters: DataSetParameters,
  options: { regenerate: boolean },
): Promise<GeneratedDataSet> {
  const { server, database, name } = benchDatabaseUrls();
  if (!options.regenerate && (await databaseExists(server, name))) {
    const stored = await storedDataSet(database, parameters);
    if (stored) {
      log(`reusing ${name}: generated ${stored.generatedAt} (anchor ${stored.anchor}); --regenerate to rebuild`);
      return stored;
    }
  }
  log(
    `generating ${name}: ${parameters.accounts} accounts, ${parameters.contacts} contacts, ${parameters.events} events over ${parameters.days} days`,
  );
  const started = performance.now();
  await withClient(server, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  const db = await openDatabase({ kind: 'postgres', url: database, poolSize: 2 });
  try {
    await runMigrations(db);
  } finally {
    await db.close();
  }
  const steps: Record<string, number> = { migrate: Math.round(performance.now() - started) };
  const generated = await withClient(database, (c) => generate(c, parameters, steps));
  const generationMs = Math.round(performance.now() - started);
  await withClient(database, (c) =>
    c.query(
      `UPDATE bench.generation SET completed = true, generation_ms = $1,
              parameters = parameters || jsonb_build_object('steps', $2::jsonb)`,
      [generationMs, JSON.stringify(steps)],
    ),
  );
  log(`generated in ${seconds(generationMs)}`);
  return { ...parameters, ...generated, generationMs, steps, reused: false };
}

/**
 * Secondary indexes and unique constraints of a table: dropped before a bulk load and built
 * again after it (a sorted build is far cheaper than 20M random btree inserts). The exact
 * definitions come from the catalogue, so the rebuilt indexes are the migrations' own.
 */
async function withoutSecondaryIndexes(c: Client, table: string, load: () => Promise<void>): Promise<void> {
  const constraints = (
    await c.query(
      `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = $1::regclass AND contype = 'u' ORDER BY conname`,
      [table],
    )
  ).rows as { conname: string; def: string }[];
  const indexes = (
    await c.query(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
        WHERE i.indrelid = $1::regclass AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY 1`,
      [table],
    )
  ).rows as { name: string; def: string }[];
  for (const k of constraints) await c.query(`ALTER TABLE ${table} DROP CONSTRAINT ${k.conname}`);
  for (const i of indexes) await c.query(`DROP INDEX ${i.name}`);
  await load();
  for (const k of constraints) {
    const t = performance.now();
    await c.query(`ALTER TABLE ${table} ADD CONSTRAINT ${k.conname} ${k.def}`);
    log(`  ${table}: ${k.conname} built in ${seconds(performance.now() - t)}`);
  }
  for (const i of indexes) {
    const t = performance.now();
    await c.query(i.def);
    log(`  ${table}: ${i.name} built in ${seconds(performance.now() - t)}`);
  }
}

async function step(steps: Record<string, number>, label: string, fn: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  await fn();
  const ms = Math.round(performance.now() - t);
  steps[label] = ms;
  log(`${label}: ${seconds(ms)}`);
}

/**
 * Generates the data set set-based, one INSERT ... SELECT per table (per day for events).
 *
 * - accounts: 15 % barely use the product ("low": ~2 % of the normal rate), 55 % normal,
 *   30 % heavy (3x); time zones (Tokyo most), ARR in JPY or USD spread over two decades (about
 *   60 % tech-touch), contract starts up to three years back and the next anniversary as
 *   renewal date, 3 % churned, high- and mid-touch accounts owned by one of 50 CSMs;
 * - contacts: assigned to accounts by a hash of their number (about 10 each, Poisson-like),
 *   roles (admin 15 %, operator 18 %, decision maker 6 %, champion 9 %, none 55 %), 7 % left or
 *   bounced;
 * - events: each day, every contact draws its events (Bernoulli/Poisson-like, rate by account
 *   activity, role and a personal factor), exactly `events / days` a day on average: logins
 *   30 %, feature use 35 %, report exports 12 %, dashboards 13 %, invitations 2 %,
 *   integrations 1 %, mail opens and clicks 7 % (source tracking, a fifth machine opens); 5 %
 *   of product events carry the account only;
 * - rollups: the trigger is off for this session (session_replication_role = replica, which
 *   also skips foreign-key checks on rows built consistent), then the migration's own backfill
 *   (`backfillUsageRollups`, the trigger's statements over the whole table) fills them: the
 *   same rows the trigger gives, as the usage-rollups suite checks.
 */
async function generate(
  c: Client,
  p: DataSetParameters,
  steps: Record<string, number>,
): Promise<{ anchor: string; generatedAt: string; sizes: Record<string, string> }> {
  const anchor = new Date().toISOString().slice(0, 10);
  const generatedAt = new Date().toISOString();
  await c.query(`CREATE SCHEMA bench`);
  await c.query(
    `CREATE TABLE bench.generation (parameters jsonb NOT NULL, anchor date NOT NULL, generated_at timestamptz NOT NULL,
       completed boolean NOT NULL DEFAULT false, generation_ms integer)`,
  );
  await c.query(`INSERT INTO bench.generation (parameters, anchor, generated_at) VALUES ($1, $2, $3)`, [
    JSON.stringify({ ...p, version: GENERATOR_VERSION }),
    anchor,
    generatedAt,
  ]);
  await c.query(`SET session_replication_role = replica`);
  await c.query(`SET maintenance_work_mem = '1GB'`);
  await c.query(`SET work_mem = '256MB'`);
  // The generator's row estimates are wild (generate_series): JIT would cost more than it saves.
  await c.query(`SET jit = off`);
  await c.query(`SELECT setseed(0.42)`); // accounts and contacts draw with random() (no sort involved)

  await step(steps, 'csms and accounts', async () => {
    await c.query(
      `INSERT INTO csms (id, external_id, name, email, locale)
       SELECT md5('bench-csm-' || k)::uuid, 'bench-csm-' || k, 'CSM ' || k, 'csm' || k || '@vendor.example', 'ja'
         FROM generate_series(1, 50) k`,
    );
    // One helper row per account: its number, id and activity multiplier.
    await c.query(
      `CREATE TABLE bench.gen_accounts AS
       SELECT i AS account_no, gen_random_uuid() AS id,
              CASE WHEN r < 0.15 THEN 0.02 WHEN r < 0.70 THEN 1.0 ELSE 3.0 END AS activity,
              random() AS r_zone, random() AS r_arr, random() AS r_cur, random() AS r_start, random() AS r_status
         FROM (SELECT i, random() AS r FROM generate_series(1, $1::int) i) s`,
      [p.accounts],
    );
    await c.query(`ALTER TABLE bench.gen_accounts ADD PRIMARY KEY (account_no)`);
    await c.query(
      `INSERT INTO accounts (id, external_id, name, plan, arr_amount, arr_currency, owner_csm_id, contract_start_date,
                             renewal_date, time_zone, locale, status, attributes, created_at, updated_at)
       SELECT g.id, 'bench-a-' || g.account_no, 'ベンチ商事' || g.account_no || ' 株式会社',
              CASE WHEN x.tier = 'high' THEN 'Enterprise' WHEN x.tier = 'mid' THEN 'Business' ELSE 'Starter' END,
              x.arr, x.currency,
              CASE WHEN x.tier <> 'tech' THEN md5('bench-csm-' || (1 + g.account_no % 50))::uuid END,
              x.start, (x.start + make_interval(years => ((($1::date - x.start) / 365) + 1)::int))::date,
              x.zone, CASE WHEN x.zone IS NULL OR x.zone = 'Asia/Tokyo' THEN 'ja' ELSE 'en' END,
              CASE WHEN g.r_status < 0.03 THEN 'churned' ELSE 'active' END,
              jsonb_build_object('industry', (ARRAY['manufacturing', 'retail', 'software', 'finance', 'media'])[1 + g.account_no % 5]),
              now(), now()
         FROM bench.gen_accounts g
        CROSS JOIN LATERAL (
          SELECT CASE WHEN g.r_zone < 0.65 THEN 'Asia/Tokyo' WHEN g.r_zone < 0.75 THEN 'America/New_York'
                      WHEN g.r_zone < 0.83 THEN 'Europe/London' WHEN g.r_zone < 0.90 THEN 'Asia/Singapore' END AS zone,
                 ($1::date - (10 + floor(g.r_start * 1100))::int) AS start,
                 CASE WHEN g.r_cur < 0.05 THEN NULL WHEN g.r_cur < 0.80 THEN 'JPY' ELSE 'USD' END AS currency,
                 CASE WHEN g.r_cur < 0.05 THEN NULL
                      WHEN g.r_cur < 0.80 THEN round((300000 * power(100, power(g.r_arr, 1.5)))::numeric, -3)
                      ELSE round((3000 * power(100, power(g.r_arr, 1.5)))::numeric, 0) END AS arr,
                 CASE WHEN g.r_cur < 0.05 THEN 'tech'
                      WHEN power(100, power(g.r_arr, 1.5)) >= 100.0 / 3 THEN 'high'
                      WHEN power(100, power(g.r_arr, 1.5)) >= 10 THEN 'mid' ELSE 'tech' END AS tier
        ) x
        ORDER BY g.account_no`,
      [anchor],
    );
  });

  await step(steps, 'contacts', async () => {
    await c.query(
      `CREATE TABLE bench.gen_contacts AS
       SELECT j AS contact_no, gen_random_uuid() AS id, a.id AS account_id, a.account_no, a.activity, s.r_role, s.r_status, s.r_rate, s.r_zone
         FROM (SELECT j, 1 + ((hashint8(j)::bigint + 2147483648) % $2::int) AS account_no,
                      random() AS r_role, random() AS r_status, random() AS r_rate, random() AS r_zone
                 FROM generate_series(1, $1::int) j) s
         JOIN bench.gen_accounts a ON a.account_no = s.account_no`,
      [p.contacts, p.accounts],
    );
    await withoutSecondaryIndexes(c, 'contacts', async () => {
      await c.query(
        `INSERT INTO contacts (id, account_id, external_id, email, name, roles, locale, time_zone, status, consent_basis,
                               attributes, created_at, updated_at)
         SELECT g.id, g.account_id, 'bench-c-' || g.contact_no, 'c' || g.contact_no || '@bench-' || g.account_no || '.example',
                '担当者 ' || g.contact_no,
                CASE WHEN g.r_role < 0.12 THEN ARRAY['admin'] WHEN g.r_role < 0.15 THEN ARRAY['admin', 'champion']
                     WHEN g.r_role < 0.33 THEN ARRAY['operator'] WHEN g.r_role < 0.39 THEN ARRAY['decision_maker']
                     WHEN g.r_role < 0.45 THEN ARRAY['champion'] ELSE ARRAY[]::text[] END,
                CASE WHEN g.r_zone < 0.05 THEN 'en' END,
                CASE WHEN g.r_zone < 0.10 THEN 'Asia/Tokyo' END,
                CASE WHEN g.r_status < 0.05 THEN 'left' WHEN g.r_status < 0.07 THEN 'bounced' ELSE 'active' END,
                'existing_relationship', '{}'::jsonb, now(), now()
           FROM bench.gen_contacts g ORDER BY g.contact_no`,
      );
    });
  });

  await step(steps, 'events', async () => {
    // Each contact's expected events per day, scaled so the days draw 3 % more than needed;
    // each day keeps exactly its share at random. Per-event draws are hashes of a key unique
    // to (day, contact, k) and the draw's slot, not random(): PostgreSQL evaluates equal
    // volatile expressions next to a sort once, so several random() columns would be one value.
    await c.query(
      `CREATE FUNCTION bench.u(key bigint) RETURNS float8 LANGUAGE sql IMMUTABLE
         RETURN (hashint8(key)::bigint + 2147483648) / 4294967296.0`,
    );
    await c.query(
      `CREATE TABLE bench.gen_rates AS
       SELECT g.contact_no, g.id AS contact_id, g.account_id,
              g.activity * (0.2 + 1.6 * g.r_rate)
                * CASE WHEN g.r_role < 0.33 THEN 1.5 WHEN g.r_role < 0.45 THEN 1.0 ELSE 0.8 END
                * CASE WHEN g.r_status < 0.07 THEN 0.1 ELSE 1.0 END AS weight
         FROM bench.gen_contacts g`,
    );
    await c.query(
      `UPDATE bench.gen_rates SET weight = weight * 1.03 * ($1::float8 / $2) / (SELECT sum(weight) FROM bench.gen_rates)`,
      [p.events, p.days],
    );
    await c.query(`VACUUM ANALYZE bench.gen_rates`);
    await withoutSecondaryIndexes(c, 'events', async () => {
      for (let d = 0; d < p.days; d++) {
        const t = performance.now();
        const n = Math.floor((p.events * (d + 1)) / p.days) - Math.floor((p.events * d) / p.days);
        await c.query(
          `INSERT INTO events (type, occurred_at, received_at, account_id, contact_id, source, idempotency_key, props)
           SELECT y.type, y.at, y.at + make_interval(secs => 1 + y.r_delay * 20), y.account_id,
                  CASE WHEN y.r_scope < 0.05 AND y.type NOT LIKE 'email.%' THEN NULL ELSE y.contact_id END,
                  CASE WHEN y.type LIKE 'email.%' THEN 'tracking' ELSE 'api' END,
                  'bench-' || $1::int || '-' || row_number() OVER (),
                  CASE y.type
                    WHEN 'feature_used' THEN jsonb_build_object('feature', (ARRAY['dashboards', 'exports', 'alerts', 'sso', 'workflows'])[1 + floor(y.r_prop * 5)::int])
                    WHEN 'integration_connected' THEN jsonb_build_object('integration', (ARRAY['slack', 'teams', 'salesforce', 'hubspot'])[1 + floor(y.r_prop * 4)::int])
                    WHEN 'email.opened' THEN jsonb_build_object('messageId', gen_random_uuid(), 'classification', CASE WHEN y.r_prop < 0.2 THEN 'machine' ELSE 'human' END)
                    WHEN 'email.clicked' THEN jsonb_build_object('messageId', gen_random_uuid(), 'classification', 'human')
                    ELSE '{}'::jsonb END
             FROM (
               SELECT x.*, ($2::date + x.r_at * interval '86399.999 seconds') AT TIME ZONE 'UTC' AS at,
                      CASE WHEN x.r_type < 0.30 THEN 'login' WHEN x.r_type < 0.65 THEN 'feature_used'
                           WHEN x.r_type < 0.77 THEN 'report_exported' WHEN x.r_type < 0.82 THEN 'dashboard_created'
                           WHEN x.r_type < 0.90 THEN 'dashboard_viewed' WHEN x.r_type < 0.92 THEN 'user_invited'
                           WHEN x.r_type < 0.93 THEN 'integration_connected' WHEN x.r_type < 0.98 THEN 'email.opened'
                           ELSE 'email.clicked' END AS type
                 FROM (
                   SELECT z.contact_id, z.account_id, bench.u(z.key + 1) AS r_type, bench.u(z.key + 2) AS r_at,
                          bench.u(z.key + 3) AS r_delay, bench.u(z.key + 4) AS r_scope, bench.u(z.key + 5) AS r_prop
                     FROM (
                       SELECT r.contact_id, r.account_id, ((($1::bigint * 4194304) + r.contact_no) * 64 + k) * 8 AS key
                         FROM bench.gen_rates r
                        CROSS JOIN LATERAL generate_series(1, floor(r.weight + bench.u((($1::bigint * 4194304) + r.contact_no) * 512))::int) k
                     ) z
                    ORDER BY bench.u(z.key + 7)
                    LIMIT $3
                 ) x
             ) y`,
          [d, dayBefore(anchor, p.days - d), n],
        );
        log(
          `  events day ${d + 1}/${p.days} (${dayBefore(anchor, p.days - d)}): ${n} in ${seconds(performance.now() - t)}`,
        );
      }
    });
  });

  await step(steps, 'rollups', async () => {
    await withoutSecondaryIndexes(c, 'contact_daily_usage', async () => {
      await backfillUsageRollups(c);
    });
  });

  await step(steps, 'vacuum analyze', async () => {
    await c.query(`DROP TABLE bench.gen_rates, bench.gen_contacts, bench.gen_accounts`);
    await c.query(`RESET session_replication_role`);
    await c.query(`VACUUM (ANALYZE)`);
  });

  const sizes = (
    await c.query(
      `SELECT relname AS name, pg_size_pretty(pg_total_relation_size(oid)) AS size FROM pg_class
        WHERE relname IN ('accounts', 'contacts', 'events', 'account_daily_usage', 'contact_daily_usage') ORDER BY relname`,
    )
  ).rows as { name: string; size: string }[];
  const database = (await c.query(`SELECT pg_size_pretty(pg_database_size(current_database())) AS size`)).rows as {
    size: string;
  }[];
  const result: Record<string, string> = Object.fromEntries(sizes.map((s) => [s.name, s.size]));
  result.database = database[0]?.size ?? '';
  await c.query(`UPDATE bench.generation SET parameters = parameters || jsonb_build_object('sizes', $1::jsonb)`, [
    JSON.stringify(result),
  ]);
  return { anchor, generatedAt, sizes: result };
}

/** The UTC day `days` before `anchor` (YYYY-MM-DD). */
function dayBefore(anchor: string, days: number): string {
  return new Date(Date.parse(`${anchor}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------

/** The wall clock, or a fixed instant (the daily tick and the step run happen at the anchor's 09:30 in Tokyo). */
class BenchClock extends Clock {
  fixed: Date | undefined;
  override now(): Date {
    return this.fixed ? new Date(this.fixed.getTime()) : new Date();
  }
}

/** The worker role's scenario runtime, without HTTP and without the schedulers (the benchmark drives it). */
@Module({})
class ScenarioBenchModule {
  static forRoot(options: CoreOptions): DynamicModule {
    return {
      module: ScenarioBenchModule,
      imports: [CoreModule.forRoot(options), MessagingCoreModule, ScenarioRuntimeModule],
    };
  }
}

const LOW_USAGE_ID = 'bench-low-usage';
const EVENT_ID = 'bench-first-integration';

/** Modelled on scenarios/onboarding-low-usage.yaml, for every tech-touch account (not only onboarding ones). */
const LOW_USAGE_YAML = `id: ${LOW_USAGE_ID}
name: bench low usage
status: active
priority: 80
subject: contact
audience:
  tier: [tech-touch]
  roles: [admin, operator]
trigger:
  condition:
    when: account.logins_14d < 3 and account.days_since_start >= 7
    check: daily at 09:00
entry: { again_after: 30d, per: contact }
goal: { when: account.logins_7d >= 5, within: 30d }
exit_when: account.status == 'churned'
steps:
  - id: nudge
    send: low-usage/nudge
  - id: pause-3d
    wait: 3d
  - id: nudge-ignored
    if: not (opened('nudge') or clicked('nudge'))
    then:
      - id: help-offer
        send: low-usage/help-offer
  - id: wait-login
    wait_for: { event: login, timeout: 7d }
    on_timeout:
      - id: stalled
        handoff: { to: owner, reason: usage_stalled, priority: high }
      - id: handed-off
        exit: handed_off
  - id: recovered
    exit: recovered
`;

/** Modelled on scenarios/first-integration.yaml, sending at once. */
const EVENT_YAML = `id: ${EVENT_ID}
name: bench first integration
status: active
priority: 40
subject: contact
trigger:
  event: { type: integration_connected, count: 1 }
entry: { once_per: contact }
steps:
  - id: congratulate
    send: milestone/first-integration
  - id: pause
    wait: 7d
`;

export interface Distribution {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  return { count: sorted.length, p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(at(1)) };
}

/** Time spent in SQL, by statement (TypeORM's query runner, so transactions and pool waits count). */
class QueryProfile {
  private readonly byStatement = new Map<string, { count: number; ms: number }>();
  private readonly kept = new Map<string, { sql: string; params: unknown[] } | undefined>();
  private original: PostgresQueryRunner['query'] | undefined;

  /** Keeps the last statement of this label with its parameters (to EXPLAIN it afterwards). */
  keepLast(label: string): void {
    this.kept.set(label, undefined);
  }

  last(label: string): { sql: string; params: unknown[] } | undefined {
    return this.kept.get(label);
  }

  start(): void {
    this.byStatement.clear();
    if (this.original) return;
    const original = (this.original = PostgresQueryRunner.prototype.query);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the patched method needs both `this`es
    const profile = this;
    PostgresQueryRunner.prototype.query = async function (
      this: PostgresQueryRunner,
      ...args: Parameters<PostgresQueryRunner['query']>
    ) {
      const started = performance.now();
      try {
        return (await original.apply(this, args)) as unknown;
      } finally {
        profile.add(args[0], Array.isArray(args[1]) ? (args[1] as unknown[]) : undefined, performance.now() - started);
      }
    } as PostgresQueryRunner['query'];
  }

  stop(): void {
    if (this.original) PostgresQueryRunner.prototype.query = this.original;
    this.original = undefined;
  }

  private add(sql: string, params: unknown[] | undefined, ms: number): void {
    const key = statementLabel(sql);
    if (this.kept.has(key)) this.kept.set(key, { sql, params: params ?? [] });
    const entry = this.byStatement.get(key) ?? { count: 0, ms: 0 };
    entry.count += 1;
    entry.ms += ms;
    this.byStatement.set(key, entry);
  }

  report(): { statement: string; count: number; ms: number }[] {
    return [...this.byStatement.entries()]
      .map(([statement, v]) => ({ statement, count: v.count, ms: Math.round(v.ms) }))
      .sort((a, b) => b.ms - a.ms);
  }
}

/** A short name for a runtime statement (what it does, after the repository method that sends it). */
function statementLabel(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  const known: [RegExp, string][] = [
    [/^START TRANSACTION/, 'BEGIN'],
    [/^COMMIT/, 'COMMIT'],
    [/^ROLLBACK/, 'ROLLBACK'],
    [/^UPDATE enrollments e SET lease_owner/, 'claimDue (UPDATE ... FOR UPDATE SKIP LOCKED)'],
    [/^UPDATE enrollments e SET cursor/, 'fencedUpdate (enrollment states of the batch)'],
    [/^INSERT INTO enrollment_effects/, 'recordEffects (INSERT enrollment_effects)'],
    [/^UPDATE enrollment_effects f SET message_id/, 'linkEffects (UPDATE enrollment_effects)'],
    [/FROM messages WHERE intent_key/, 'insertMessages: intent keys already stored'],
    [/^INSERT INTO messages/, 'enqueueMany: INSERT messages'],
    [/usage_rollups_fold\(\)/, 'usage_rollups_fold'],
    [/FROM accounts a WHERE a.id = ANY/, 'snapshots: accounts'],
    [/FROM contacts c WHERE c.id = ANY/, 'snapshots: contacts'],
    [/FROM account_daily_usage u WHERE u.account_id = ANY/, 'snapshots: account_daily_usage'],
    [/FROM contact_daily_usage u WHERE u.contact_id = ANY/, 'snapshots: contact_daily_usage'],
    [/SELECT f.enrollment_id, f.step_id/, 'activity (opens/clicks)'],
    [/json_to_recordset\(\$1::json\) AS w\(id uuid/, 'eventsArrived'],
    [/FROM scenario_versions/, 'scenario version'],
    [/^WITH entered AS/, 'enrollFromQuery'],
    [/^INSERT INTO scenario_checks/, 'claimCheck'],
    [/^SELECT last_run_at FROM scenario_checks/, 'lastCheck'],
    [/^WITH touched AS/, 'eventThresholdReached'],
  ];
  for (const [pattern, label] of known) if (pattern.test(s)) return label;
  if (/recipient|suppress/i.test(s) || /FROM contacts c JOIN accounts a/.test(s))
    return `MessageQueue: recipient context`;
  return s.slice(0, 70);
}

export interface LowUsageTickFigures {
  scenario: string;
  /** The scheduled check's time (the benchmark clock). */
  at: string;
  /** scanConditions: the population query and the INSERT ... SELECT of every match, one statement. */
  ms: number;
  enrolled: number;
  targetMs: number;
  met: boolean;
  /** EXPLAIN ANALYZE of the population query alone (after the tick, warm). */
  populationQuery: { ms: number; rows: number; plan: string[] };
  /** EXPLAIN ANALYZE of the tick's enrolling statement on emptied tables (rolled back). */
  enrollStatement: { ms: number; plan: string[] };
  /** Further ticks of the same check (each on an emptied enrollments table), ms. */
  repeats: number[];
}

export interface ExecutorFigures {
  scenario: string;
  options: { batchSize: number; leaseMs: number; workers: number };
  enrollments: number;
  committed: number;
  failed: number;
  messagesQueued: number;
  ms: number;
  perSecond: number;
  target: number;
  met: boolean;
  /** Where the time went: SQL by statement (ms summed over calls), the rest (Node: planner, JSON). */
  profile: {
    sql: { statement: string; count: number; ms: number }[];
    sqlMs: number;
    otherMs: number;
    perEnrollment: { statements: number; transactions: number; msTotal: number; msSql: number };
  };
  variants: { batchSize: number; workers: number; enrollments: number; ms: number; perSecond: number }[];
}

export interface EventTriggerFigures {
  scenario: string;
  targetEventsPerSecond: number;
  eventsSent: number;
  eventsAccepted: number;
  sendSeconds: number;
  eventsPerSecond: number;
  triggeringEvents: number;
  /** Contacts that sent a triggering event and are in the audience (active, of an active account). */
  eligible: number;
  enrolled: number;
  /** Milliseconds from the triggering event's received_at to: */
  latency: {
    /** the enrollment's entered_at (the scan's clock, taken when the scan starts); */
    entered: Distribution;
    /** the end of the scan that enrolled it (the enrollment is committed); */
    committed: Distribution;
    /** the end of the drain that ran its first step (the message is queued). */
    firstStep: Distribution;
  };
  targetP95Ms: number;
  met: boolean;
  ticks: { count: number; tickMs: Distribution; scanEventsMs: Distribution; drainMs: Distribution };
  eventThresholdPlan: string[];
}

export interface ScenarioFigures {
  database: string;
  /** 1-minute load average when each part started (the box is shared). */
  loadAverage: Record<string, number>;
  dataSet: GeneratedDataSet;
  counts: Record<string, number>;
  lowUsageTick: LowUsageTickFigures;
  executor: ExecutorFigures;
  eventTrigger: EventTriggerFigures;
}

export interface ScenarioBenchOptions {
  regenerate: boolean;
  parameters: DataSetParameters;
  /** How long events are sent at `eventsPerSecond` in the event-trigger part. */
  eventSeconds: number;
  eventsPerSecond: number;
  /** Enrollments each executor variant runs. */
  variantSample: number;
  /** Skip the executor variants (batch size, several workers). */
  variants: boolean;
}

async function resetRuntime(ds: DataSource): Promise<void> {
  await ds.query(
    `TRUNCATE enrollment_effects, handoffs, enrollments, scenario_checks, segment_members, message_links, messages CASCADE`,
  );
}

export async function benchScenarios(options: ScenarioBenchOptions): Promise<ScenarioFigures> {
  const dataSet = await prepareDataSet(options.parameters, { regenerate: options.regenerate });
  const { database, name } = benchDatabaseUrls();
  const tmp = mkdtempSync(join(tmpdir(), 'tend-bench-scenarios-'));
  const scenariosDir = join(tmp, 'scenarios');
  mkdirSync(scenariosDir, { recursive: true });
  copyFileSync(join(process.cwd(), 'scenarios', '_catalog.yaml'), join(scenariosDir, '_catalog.yaml'));
  writeFileSync(join(scenariosDir, `${LOW_USAGE_ID}.yaml`), LOW_USAGE_YAML);
  const env = {
    DATABASE_URL: database,
    DATABASE_POOL_SIZE: '10',
    ROLE: 'worker',
    SCENARIOS_DIR: scenariosDir,
    DATA_DIR: join(tmp, 'data'),
    OUTBOX_DIR: join(tmp, 'outbox'),
    ADMIN_API_KEY: BENCH_API_KEY,
    TRACKING_SECRET: BENCH_TRACKING_SECRET,
    PUBLIC_BASE_URL: 'http://127.0.0.1',
    MAIL_FROM: 'Bench <bench@example.com>',
    ...TEST_SENDER,
    LOG_LEVEL: 'warn',
  };
  const { config } = loadConfig(env);
  configureLogger(config.log);
  const db = await openDatabase({ kind: 'postgres', url: database, poolSize: 10 });
  const clock = new BenchClock();
  let app: INestApplicationContext | undefined;
  try {
    await runMigrations(db);
    const ds = db.dataSource;
    await resetRuntime(ds);
    // The daily check runs at 09:30 in Tokyo on the anchor day (the day after the last generated one).
    clock.fixed = new Date(`${dataSet.anchor}T00:30:00Z`);
    app = await NestFactory.createApplicationContext(ScenarioBenchModule.forRoot({ config, database: db, clock }), {
      logger: false,
    });
    const removed = await removeLiveEvents(ds, dataSet.generatedAt);
    if (removed > 0) log(`removed ${removed} live events of earlier runs (and their rollup counts)`);
    const counts = await countRows(ds);
    log(`data set: ${JSON.stringify(counts)}`);
    const loadAverage: Record<string, number> = {};
    const load = (part: string) => (loadAverage[part] = round2(loadavg()[0] ?? NaN));
    load('lowUsageTick');
    const lowUsageTick = await benchLowUsageTick(app, ds, clock);
    load('executor');
    const { executor, repeats } = await benchExecutor(app, ds, config, lowUsageTick.enrolled, options);
    lowUsageTick.repeats = repeats;
    load('eventTrigger');
    const eventTrigger = await benchEventTrigger(app, ds, clock, options, { database, tmp, scenariosDir });
    log(`removed the ${await removeLiveEvents(ds, dataSet.generatedAt)} live events again`);
    load('end');
    log(`load average: ${JSON.stringify(loadAverage)}`);
    return { database: name, loadAverage, dataSet, counts, lowUsageTick, executor, eventTrigger };
  } finally {
    await app?.close();
    await db.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Takes the event-trigger part's live events out again (those of earlier runs too), with
 * their rollup counts, so every run starts from the generated data exactly: the daily check
 * sees the same logins, the reused database does not grow. Live events are the API's
 * (`live-` ids) received after the generation; their types roll up as themselves.
 */
async function removeLiveEvents(ds: DataSource, generatedAt: string): Promise<number> {
  return ds.transaction(async (m) => {
    // Their counts must be in the rollups before they are taken out again.
    await m.query(`SELECT usage_rollups_fold()`);
    await m.query(
      `CREATE TEMP TABLE live_events ON COMMIT DROP AS
       SELECT id, account_id, contact_id, type, (occurred_at AT TIME ZONE 'UTC')::date AS day FROM events
        WHERE received_at > $1 AND source = 'api' AND idempotency_key LIKE 'live-%'`,
      [generatedAt],
    );
    const [{ n }] = await m.query<[{ n: number }]>(`SELECT count(*)::int AS n FROM live_events`);
    if (n === 0) return 0;
    for (const [table, key] of [
      ['account_daily_usage', 'account_id'],
      ['contact_daily_usage', 'contact_id'],
    ] as const) {
      await m.query(
        `WITH g AS (SELECT ${key} AS subject, type, day, count(*)::int AS n FROM live_events
                     WHERE ${key} IS NOT NULL GROUP BY 1, 2, 3)
         UPDATE ${table} t SET events = t.events - g.n FROM g
          WHERE t.${key} = g.subject AND t.type = g.type AND t.day = g.day`,
      );
      await m.query(
        `DELETE FROM ${table} t USING (SELECT DISTINCT ${key} AS subject, type, day FROM live_events) g
          WHERE t.${key} = g.subject AND t.type = g.type AND t.day = g.day AND t.events = 0`,
      );
    }
    await m.query(`DELETE FROM events e USING live_events l WHERE e.id = l.id`);
    return n;
  });
}

async function countRows(ds: DataSource): Promise<Record<string, number>> {
  const rows: { name: string; n: string }[] = await ds.query(
    `SELECT 'accounts' AS name, count(*)::text AS n FROM accounts
     UNION ALL SELECT 'contacts', count(*)::text FROM contacts
     UNION ALL SELECT 'events', count(*)::text FROM events
     UNION ALL SELECT 'account_daily_usage', count(*)::text FROM account_daily_usage
     UNION ALL SELECT 'contact_daily_usage', count(*)::text FROM contact_daily_usage`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

async function benchLowUsageTick(
  app: INestApplicationContext,
  ds: DataSource,
  clock: BenchClock,
): Promise<LowUsageTickFigures> {
  const registry = app.get(ScenarioRegistry);
  const triggers = app.get(ScenarioTriggers);
  const report = await registry.reload();
  if (report.problems.length > 0) throw new Error(`bench scenario invalid: ${report.problems.join('; ')}`);
  const active = registry.active().filter((s) => s.compiled.id === LOW_USAGE_ID);
  log(`daily low-usage tick at ${clock.now().toISOString()} ...`);
  const profile = new QueryProfile();
  profile.keepLast('enrollFromQuery');
  profile.start();
  const started = performance.now();
  const entered = await triggers.scanConditions(active);
  const ms = Math.round(performance.now() - started);
  profile.stop();
  const enrolled = entered.get(LOW_USAGE_ID);
  if (enrolled === undefined) throw new Error('the condition check did not run (claimed already?)');
  log(`  scanConditions: ${enrolled} enrolled in ${ms} ms`);

  // The population query alone, as the trigger compiles it, under EXPLAIN ANALYZE.
  const scenario = active[0]!;
  const definition = scenario.compiled.definition;
  const trigger = definition.trigger as { condition: { when: string } };
  const analyzed = analyzeWithCatalog(
    `(${audienceCondition(definition)}) and (${trigger.condition.when})`,
    scenario.catalog,
    { scope: definition.subject, context: 'population' },
  );
  if (!analyzed.checked) throw new Error('the bench condition does not compile');
  const population = buildPopulationQuery(analyzed.checked, {
    now: clock.now(),
    settings: factSettingsFrom(app.get<AppConfig>(APP_CONFIG), scenario.catalog.page_groups),
    scope: definition.subject,
  });
  const plan: { 'QUERY PLAN': string }[] = await ds.query(
    `EXPLAIN (ANALYZE, BUFFERS) ${population.sql}`,
    population.params,
  );
  const lines = plan.map((p) => p['QUERY PLAN']);
  const execution = lines.find((l) => l.startsWith('Execution Time'));
  const top = /actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/.exec(lines[0] ?? '');
  const populationQuery = {
    ms: Math.round(Number(/([\d.]+) ms/.exec(execution ?? '')?.[1] ?? NaN)),
    rows: Number(top?.[1] ?? NaN),
    plan: lines,
  };
  log(`  population query alone: ${populationQuery.rows} rows in ${populationQuery.ms} ms`);
  for (const line of lines) log(`    ${line}`);

  // The enrolling statement itself (population query + INSERT of every match), on emptied
  // tables inside a transaction that is rolled back: where the rest of the tick goes.
  const enrolling = profile.last('enrollFromQuery');
  let enrollStatement: LowUsageTickFigures['enrollStatement'] = { ms: NaN, plan: [] };
  if (enrolling) {
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(`TRUNCATE enrollment_effects, handoffs, enrollments CASCADE`);
      const explained = (await runner.query(`EXPLAIN (ANALYZE, BUFFERS) ${enrolling.sql}`, enrolling.params)) as {
        'QUERY PLAN': string;
      }[];
      const text = explained.map((p) => p['QUERY PLAN']);
      enrollStatement = {
        ms: Math.round(Number(/([\d.]+) ms/.exec(text.find((l) => l.startsWith('Execution Time')) ?? '')?.[1] ?? NaN)),
        plan: text,
      };
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    log(`  enrolling statement (EXPLAIN ANALYZE, rolled back): ${enrollStatement.ms} ms`);
    for (const line of enrollStatement.plan.filter((l) => /^(Trigger|Execution|Planning Time| {2}->|\S)/.test(l)))
      log(`    ${line}`);
  }
  return {
    scenario: LOW_USAGE_ID,
    at: clock.now().toISOString(),
    ms,
    enrolled,
    targetMs: 15_000,
    met: ms <= 15_000,
    populationQuery,
    enrollStatement,
    repeats: [],
  };
}

async function benchExecutor(
  app: INestApplicationContext,
  ds: DataSource,
  config: AppConfig,
  enrolled: number,
  options: ScenarioBenchOptions,
): Promise<{ executor: ExecutorFigures; repeats: number[] }> {
  const executor = app.get(ScenarioExecutor);
  const defaults: ExecutorOptions = {
    batchSize: config.scenarioRuntime.batchSize,
    leaseMs: config.scenarioRuntime.leaseMs,
  };
  const profile = new QueryProfile();
  log(`executing due steps: ${enrolled} enrollments, batch ${defaults.batchSize}, one worker ...`);
  profile.start();
  const started = performance.now();
  const figures = await executor.drain(defaults, [LOW_USAGE_ID]);
  const ms = Math.round(performance.now() - started);
  profile.stop();
  const sql = profile.report();
  const sqlMs = sql.reduce((sum, s) => sum + s.ms, 0);
  const statements = sql.reduce((sum, s) => sum + s.count, 0);
  const transactions = sql.find((s) => s.statement === 'COMMIT')?.count ?? 0;
  const queued: { n: number }[] = await ds.query(`SELECT count(*)::int AS n FROM messages`);
  const perSecondRate = perSecond(figures.committed, ms);
  log(`  drain: ${JSON.stringify(figures)} in ${ms} ms = ${perSecondRate}/s; ${queued[0]?.n} messages queued`);
  for (const s of sql.slice(0, 16))
    log(`    ${String(s.ms).padStart(7)} ms ${String(s.count).padStart(7)} x ${s.statement}`);
  const n = Math.max(1, figures.committed);
  const result: ExecutorFigures = {
    scenario: LOW_USAGE_ID,
    options: { ...defaults, workers: 1 },
    enrollments: enrolled,
    committed: figures.committed,
    failed: figures.failed,
    messagesQueued: queued[0]?.n ?? 0,
    ms,
    perSecond: perSecondRate,
    target: 2000,
    met: perSecondRate >= 2000,
    profile: {
      sql,
      sqlMs,
      otherMs: Math.max(0, ms - sqlMs),
      perEnrollment: {
        statements: round2(statements / n),
        transactions: round2(transactions / n),
        msTotal: round2(ms / n),
        msSql: round2(sqlMs / n),
      },
    },
    variants: [],
  };
  const repeats: number[] = [];
  if (!options.variants) return { executor: result, repeats };

  // Variants on a sample: the same journey, re-enrolled each time (the daily check again on
  // emptied tables), run by several workers at once (distinct lease owners) or bigger batches.
  const registry = app.get(ScenarioRegistry);
  const triggers = app.get(ScenarioTriggers);
  const active = registry.active().filter((s) => s.compiled.id === LOW_USAGE_ID);
  for (const variant of [
    { workers: 1, batchSize: defaults.batchSize },
    { workers: 2, batchSize: defaults.batchSize },
    { workers: 4, batchSize: defaults.batchSize },
    { workers: 1, batchSize: 1000 },
  ]) {
    await resetRuntime(ds);
    const t = performance.now();
    await triggers.scanConditions(active);
    repeats.push(Math.round(performance.now() - t));
    const sample = Math.min(options.variantSample, enrolled);
    let done = 0;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: variant.workers }, async (_, w) => {
        const owner = `${executor.owner}-${w}`;
        while (done < sample) {
          const f = await executor.runDue({ leaseMs: defaults.leaseMs, batchSize: variant.batchSize }, owner, [
            LOW_USAGE_ID,
          ]);
          done += f.committed;
          if (f.claimed === 0) break;
        }
      }),
    );
    const vms = Math.round(performance.now() - began);
    const v = { ...variant, enrollments: done, ms: vms, perSecond: perSecond(done, vms) };
    log(`  variant ${JSON.stringify(v)}`);
    result.variants.push(v);
  }
  return { executor: result, repeats };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

interface TickRecord {
  start: number;
  end: number;
  scanStart: number;
  scanEnd: number;
  drainStart: number;
  drainEnd: number;
}

async function benchEventTrigger(
  app: INestApplicationContext,
  ds: DataSource,
  clock: BenchClock,
  options: ScenarioBenchOptions,
  paths: { database: string; tmp: string; scenariosDir: string },
): Promise<EventTriggerFigures> {
  await resetRuntime(ds);
  clock.fixed = undefined;
  rmSync(join(paths.scenariosDir, `${LOW_USAGE_ID}.yaml`), { force: true });
  writeFileSync(join(paths.scenariosDir, `${EVENT_ID}.yaml`), EVENT_YAML);
  const registry = app.get(ScenarioRegistry);
  const report = await registry.reload();
  if (report.problems.length > 0) throw new Error(`bench scenario invalid: ${report.problems.join('; ')}`);
  const ids = registry.active().map((s) => s.compiled.id);
  if (ids.join() !== EVENT_ID) throw new Error(`expected only ${EVENT_ID} active, got ${ids.join()}`);

  // Who sends events: a random tenth of the contacts, with their accounts.
  const people: { contact: string; account: string }[] = await ds.query(
    `SELECT c.external_id AS contact, a.external_id AS account
       FROM contacts c TABLESAMPLE SYSTEM (10) JOIN accounts a ON a.id = c.account_id`,
  );
  if (people.length === 0) throw new Error('no contacts');

  // The api role in its own process, as in production: events arrive through POST /api/events.
  const port = await freePort();
  const tend = startTend(
    {
      DATABASE_URL: paths.database,
      DATABASE_POOL_SIZE: '10',
      ROLE: 'api',
      SCENARIOS_DIR: join(paths.tmp, 'api-scenarios'),
      DATA_DIR: join(paths.tmp, 'api-data'),
      OUTBOX_DIR: join(paths.tmp, 'api-outbox'),
      ADMIN_API_KEY: BENCH_API_KEY,
      TRACKING_SECRET: BENCH_TRACKING_SECRET,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      MAIL_FROM: 'Bench <bench@example.com>',
      ...TEST_SENDER,
      LOG_LEVEL: 'warn',
    },
    port,
  );
  try {
    await waitReady(tend, 120_000);
    const worker = app.get(ScenarioWorker);
    const triggers = app.get(ScenarioTriggers);
    const executor = app.get(ScenarioExecutor);
    const profile = new QueryProfile();
    profile.keepLast('eventThresholdReached');
    profile.start();

    // The worker's own tick, every second like its @Interval, timed by part.
    const ticks: TickRecord[] = [];
    let current: TickRecord | undefined;
    const scanEvents = triggers.scanEvents.bind(triggers);
    triggers.scanEvents = async (scenarios) => {
      const record = current;
      if (record) record.scanStart = Date.now();
      try {
        return await scanEvents(scenarios);
      } finally {
        if (record) record.scanEnd = Date.now();
      }
    };
    const drain = executor.drain.bind(executor);
    executor.drain = async (...args) => {
      const record = current;
      if (record) record.drainStart = Date.now();
      try {
        return await drain(...args);
      } finally {
        if (record) record.drainEnd = Date.now();
      }
    };
    let ticking: Promise<void> | undefined;
    const tick = () => {
      if (ticking) return;
      const record: TickRecord = { start: Date.now(), end: 0, scanStart: 0, scanEnd: 0, drainStart: 0, drainEnd: 0 };
      current = record;
      ticking = worker.tick().then(() => {
        record.end = Date.now();
        ticks.push(record);
        ticking = undefined;
      });
    };
    const timer = setInterval(tick, 1000);

    // Events at the target rate: 10 requests a second, each a tenth of a second's events;
    // a fifth are the trigger's type.
    const perRequest = Math.max(1, Math.round(options.eventsPerSecond / 10));
    const requests = options.eventSeconds * 10;
    const run = Date.now().toString(36);
    const triggering = new Set<string>();
    let sent = 0;
    let accepted = 0;
    let triggeringEvents = 0;
    const inFlight: Promise<void>[] = [];
    log(
      `event trigger: ${options.eventsPerSecond} events/s for ${options.eventSeconds} s through POST /api/events ...`,
    );
    const streamStart = Date.now();
    for (let r = 0; r < requests; r++) {
      const wait = streamStart + r * 100 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const events = Array.from({ length: perRequest }, (_, i) => {
        const person = people[Math.floor(Math.random() * people.length)]!;
        const x = Math.random();
        const type = x < 0.2 ? 'integration_connected' : x < 0.6 ? 'login' : 'feature_used';
        if (type === 'integration_connected') {
          triggering.add(person.contact);
          triggeringEvents += 1;
        }
        return {
          id: `live-${run}-${r}-${i}`,
          type,
          occurredAt: new Date().toISOString(),
          accountExternalId: person.account,
          contactExternalId: person.contact,
          props:
            type === 'integration_connected'
              ? { integration: 'slack' }
              : type === 'feature_used'
                ? { feature: 'dashboards' }
                : {},
        };
      });
      sent += events.length;
      inFlight.push(
        api(tend, 'POST', '/api/events', JSON.stringify({ events }), 'application/json').then((response) => {
          if (response.status !== 200) throw new Error(`ingest failed: ${JSON.stringify(response.json).slice(0, 300)}`);
          accepted += (response.json as { accepted: number }).accepted;
        }),
      );
    }
    await Promise.all(inFlight);
    const sendSeconds = (Date.now() - streamStart) / 1000;

    // Who should enroll: senders of a triggering event in the audience (active contact, active account).
    const eligibleRows: { n: number }[] = await ds.query(
      `SELECT count(*)::int AS n FROM contacts c JOIN accounts a ON a.id = c.account_id
        WHERE c.external_id = ANY($1::text[]) AND c.status = 'active' AND a.status = 'active'`,
      [[...triggering]],
    );
    const eligible = eligibleRows[0]?.n ?? 0;
    // Let the worker catch up: every eligible contact enrolled and its first step run (at most 60 s).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const done: { enrolled: number; queued: number }[] = await ds.query(
        `SELECT (SELECT count(*)::int FROM enrollments WHERE scenario_id = $1) AS enrolled,
                (SELECT count(*)::int FROM messages) AS queued`,
        [EVENT_ID],
      );
      if ((done[0]!.enrolled >= eligible && done[0]!.queued >= done[0]!.enrolled) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    clearInterval(timer);
    await ticking;
    profile.stop();

    const rows: { entered_at: Date; received_at: Date | null; effect_at: Date | null }[] = await ds.query(
      `SELECT en.entered_at, f.created_at AS effect_at,
              (SELECT min(e.received_at) FROM events e
                WHERE e.contact_id = en.contact_id AND e.type = 'integration_connected'
                  AND e.received_at >= $2) AS received_at
         FROM enrollments en
         LEFT JOIN enrollment_effects f ON f.enrollment_id = en.id AND f.kind = 'send'
        WHERE en.scenario_id = $1`,
      [EVENT_ID, new Date(streamStart - 1000).toISOString()],
    );
    const within = (t: number, from: number, to: number) => t >= from && t <= to;
    const entered: number[] = [];
    const committed: number[] = [];
    const firstStep: number[] = [];
    for (const row of rows) {
      if (row.received_at === null) continue;
      const received = row.received_at.getTime();
      const at = row.entered_at.getTime();
      entered.push(at - received);
      const scan = ticks.find((t) => within(at, t.scanStart, t.scanEnd));
      if (scan) committed.push(scan.scanEnd - received);
      if (row.effect_at !== null) {
        const effectAt = row.effect_at.getTime();
        const run = ticks.find((t) => within(effectAt, t.drainStart, t.drainEnd));
        if (run) firstStep.push(run.drainEnd - received);
      }
    }
    const last = profile.last('eventThresholdReached');
    let eventThresholdPlan: string[] = [];
    if (last) {
      const plan: { 'QUERY PLAN': string }[] = await ds.query(`EXPLAIN (ANALYZE, BUFFERS) ${last.sql}`, last.params);
      eventThresholdPlan = plan.map((p) => p['QUERY PLAN']);
    }
    const figures: EventTriggerFigures = {
      scenario: EVENT_ID,
      targetEventsPerSecond: options.eventsPerSecond,
      eventsSent: sent,
      eventsAccepted: accepted,
      sendSeconds: round2(sendSeconds),
      eventsPerSecond: Math.round(accepted / sendSeconds),
      triggeringEvents,
      eligible,
      enrolled: rows.length,
      latency: {
        entered: distribution(entered),
        committed: distribution(committed),
        firstStep: distribution(firstStep),
      },
      targetP95Ms: 5000,
      met: false,
      ticks: {
        count: ticks.length,
        tickMs: distribution(ticks.map((t) => t.end - t.start)),
        scanEventsMs: distribution(ticks.filter((t) => t.scanEnd > 0).map((t) => t.scanEnd - t.scanStart)),
        drainMs: distribution(ticks.filter((t) => t.drainEnd > 0).map((t) => t.drainEnd - t.drainStart)),
      },
      eventThresholdPlan,
    };
    // Strictest reading: until the first step has run (the message is queued), and nobody missed.
    figures.met = figures.latency.firstStep.p95 < 5000 && figures.enrolled >= eligible;
    log(`  ${JSON.stringify({ ...figures, eventThresholdPlan: undefined })}`);
    for (const line of eventThresholdPlan) log(`    ${line}`);
    return figures;
  } finally {
    await stopTend(tend);
  }
}
