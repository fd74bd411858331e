import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { type Database, openDatabase, runMigrations } from '../../src/database/data-source.factory';
import type { ProcessGroup } from './process-group';

export interface TestDatabase extends Database {
  /** Connection URL of this test's own database on a real server; undefined on the embedded engine. */
  url: string | undefined;
}

/** The engine the suite runs on: the real server when TEST_DATABASE_URL is set, else embedded PGlite. */
export function testEngine(): 'postgres' | 'embedded' {
  return process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * A fresh, migrated database for one test file: its own database on the real
 * server (created here, dropped on close), or an in-memory embedded engine.
 */
export async function createTestDatabase(
  options: { poolSize?: number; migrate?: boolean } = {},
): Promise<TestDatabase> {
  const migrate = options.migrate ?? true;
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const db = await openDatabase({ kind: 'memory' });
    if (migrate) await runMigrations(db);
    return { ...db, url: undefined };
  }
  const name = `tend_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  const db = await openDatabase({ kind: 'postgres', url, poolSize: options.poolSize ?? 5 });
  if (migrate) await runMigrations(db);
  return {
    ...db,
    url,
    close: async () => {
      await db.close();
      const dropper = new Client({ connectionString: serverUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** Secret of the tracking key `k1` that `serverTendEnv` configures (tests sign tokens with it). */
export const SERVER_TRACKING_SECRET = 's'.repeat(40);

/**
 * A test database on the PostgreSQL server, for the `*.server-spec.ts` suites: several Tend
 * processes sharing one database, which the embedded engine (one process) cannot do. Jest
 * runs those suites (project `server`) only when TEST_DATABASE_URL is set; `.ci/run` sets it.
 */
export async function createServerTestDatabase(
  options: { poolSize?: number } = {},
): Promise<TestDatabase & { url: string }> {
  if (!process.env.TEST_DATABASE_URL) throw new Error('server suites need TEST_DATABASE_URL (a PostgreSQL server)');
  const db = await createTestDatabase(options);
  return { ...db, url: db.url! };
}

/**
 * `afterAll` of a server suite. It runs when a test failed too: no Tend process outlives the
 * suite, then its data directory (`tmp`, if made) and its database go.
 */
export async function closeServerSuite(group: ProcessGroup, tmp: string, db: TestDatabase): Promise<void> {
  try {
    await group.killAll();
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await db.close();
  }
}

/** The legal sender block production requires (特定電子メール法). */
export const TEST_SENDER = {
  SENDER_NAME: 'Tend テスト株式会社',
  SENDER_POSTAL_ADDRESS: '〒100-0001 東京都千代田区千代田1-1',
  SENDER_CONTACT: 'support@example.com',
} as const;

/** The settings a production Tend process needs to run on `db` (DATABASE_URL set), data in `dataDir`. */
export function serverTendEnv(db: { url: string }, dataDir: string): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: db.url,
    DATABASE_POOL_SIZE: '4',
    DATA_DIR: dataDir,
    TRACKING_SECRET: `k1:${SERVER_TRACKING_SECRET}`,
    ADMIN_API_KEY: 'server-test-admin-key-0123456789',
    PUBLIC_BASE_URL: 'https://tend.example.com',
    MAIL_FROM: 'Tend <cs@example.com>',
    ...TEST_SENDER,
    LOG_LEVEL: 'info',
  };
}
