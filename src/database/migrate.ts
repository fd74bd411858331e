import 'reflect-metadata';
import { configureLogger, logger } from '../common/logger';
import { ConfigError, loadConfig, loadDotEnv } from '../config/load-config';
import { openDatabase, runMigrations } from './data-source.factory';
import { DataDirLockedError } from './embedded-lock';

/** `npm run migrate`: applies pending migrations to the configured database and exits. */
async function main(): Promise<void> {
  loadDotEnv();
  const { config } = loadConfig();
  configureLogger(config.log);
  const database = await openDatabase(
    config.database.kind === 'embedded'
      ? { kind: 'embedded', dataDir: config.database.dataDir }
      : { kind: 'postgres', url: config.database.url, poolSize: 2 },
  );
  try {
    const applied = await runMigrations(database);
    logger.info({ engine: database.engine, applied }, applied.length ? 'migrations applied' : 'schema is up to date');
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError)
    process.stderr.write(`tend: ${error.message}\n`);
  else logger.fatal({ err: error }, 'migration failed');
  process.exit(1);
});
