import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { join } from 'node:path';
import { DataSource, type QueryRunner } from 'typeorm';
import { entities } from './entities';
import { DataDirLock } from './embedded-lock';
import { migrations } from './migrations';
import { SnakeNamingStrategy } from './snake-naming.strategy';

export type DatabaseTarget =
  | { kind: 'embedded'; dataDir: string }
  /** In-memory PGlite: tests only. */
  | { kind: 'memory' }
  | { kind: 'postgres'; url: string; poolSize: number };

export interface Database {
  dataSource: DataSource;
  engine: 'embedded' | 'postgres';
  /** Number of connections the pool may open; 1 on the embedded engine. */
  poolSize: number;
  close(): Promise<void>;
}

function baseOptions() {
  return {
    type: 'postgres' as const,
    // gen_random_uuid() is built into PostgreSQL 13+; no extension to install.
    uuidExtension: 'pgcrypto' as const,
    installExtensions: false,
    entities,
    migrations,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    logging: false,
  };
}

/**
 * Opens the store: a PostgreSQL server when a URL is given, else an embedded
 * PGlite persisted in `<dataDir>/pgdata`, guarded by a lock file. PGlite is one
 * session, so the pool has exactly one connection: code inside a transaction must
 * use that transaction's manager.
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === 'postgres') {
    const dataSource = new DataSource({
      url: target.url,
      poolSize: target.poolSize,
      ...baseOptions(),
    });
    await dataSource.initialize();
    return { dataSource, engine: 'postgres', poolSize: target.poolSize, close: () => dataSource.destroy() };
  }
  const lock = target.kind === 'embedded' ? DataDirLock.acquire(target.dataDir) : undefined;
  let pglite: PGlite | undefined;
  try {
    pglite = await PGlite.create(target.kind === 'embedded' ? join(target.dataDir, 'pgdata') : 'memory://');
    const dataSource = new DataSource({
      extra: { ...createPgConfig(pglite), max: 1, idleTimeoutMillis: 0 },
      ...baseOptions(),
    });
    await dataSource.initialize();
    const instance = pglite;
    return {
      dataSource,
      engine: 'embedded',
      poolSize: 1,
      close: async () => {
        try {
          await dataSource.destroy();
          await instance.close();
        } finally {
          lock?.release();
        }
      },
    };
  } catch (error: unknown) {
    await pglite?.close().catch(() => undefined);
    lock?.release();
    throw error;
  }
}

/** Arbitrary constant: the advisory lock instances take while migrating one server database. */
const MIGRATION_LOCK_KEY = 7_346_201_118;

/** How often a starting instance asks again for the migration lock. */
const MIGRATION_LOCK_POLL_MS = 200;

/**
 * Takes the migration lock by asking again until it is free, never by waiting inside
 * `pg_advisory_lock`: a statement waiting there holds a snapshot, and a migration building
 * an index CONCURRENTLY waits for every older snapshot to end, while the lock it waits for
 * belongs to the migrating instance: two instances starting together would hang for good.
 */
async function takeMigrationLock(runner: QueryRunner): Promise<void> {
  for (;;) {
    const [row] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY])) as {
      locked: boolean;
    }[];
    if (row?.locked) return;
    await new Promise((resolve) => setTimeout(resolve, MIGRATION_LOCK_POLL_MS));
  }
}

/**
 * Runs pending migrations, one transaction each; returns their names. On a
 * server several instances may start at once: they queue on an advisory lock
 * so exactly one applies each migration and the others find nothing to do.
 */
export async function runMigrations(database: Database): Promise<string[]> {
  const { dataSource } = database;
  if (database.engine === 'embedded') {
    return (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
  }
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await takeMigrationLock(runner);
    try {
      return (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
