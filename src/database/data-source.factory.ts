import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
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

/** Runs pending migrations in one transaction each; returns their names. */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}
