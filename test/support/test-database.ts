import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { type Database, openDatabase, runMigrations } from '../../src/database/data-source.factory';

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

/**
 * A describe block for several Tend processes sharing one database: that needs a PostgreSQL
 * server. The embedded engine (PGlite) lives inside one process and cannot be shared, so on it
 * the block is skipped, and its name says why (TEST_DATABASE_URL; `.ci/run` sets it).
 */
export function describeOnServer(name: string, body: () => void): void {
  if (testEngine() === 'postgres') describe(`${name} (postgres)`, body);
  else
    describe.skip(
      `${name}: skipped on the embedded engine, PGlite cannot be shared between processes (set TEST_DATABASE_URL)`,
      body,
    );
}
