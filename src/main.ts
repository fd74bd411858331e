import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createApp } from './bootstrap';
import { SystemClock } from './common/clock';
import { configureLogger, logger } from './common/logger';
import { ConfigError, loadConfig } from './config/load-config';
import { openDatabase, runMigrations } from './database/data-source.factory';
import { DataDirLockedError } from './database/embedded-lock';

async function main(): Promise<void> {
  // Settings may also come from a .env file in the working directory (see .env.example).
  if (existsSync('.env')) process.loadEnvFile('.env');
  const { config, generatedSecretsFile } = loadConfig();
  configureLogger(config.log);
  if (generatedSecretsFile) {
    logger.warn(
      { file: generatedSecretsFile },
      'generated a tracking secret and an admin API key for the embedded trial',
    );
  }
  const database = await openDatabase(
    config.database.kind === 'embedded'
      ? { kind: 'embedded', dataDir: config.database.dataDir }
      : { kind: 'postgres', url: config.database.url, poolSize: config.database.poolSize },
  );
  const applied = await runMigrations(database);
  logger.info({ engine: database.engine, applied }, 'database ready');
  const app = await createApp({ config, database, clock: new SystemClock() });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      try {
        await app.close();
      } finally {
        await database.close();
        logger.info('stopped');
        process.exit(0);
      }
    })();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: config.http.port, host: config.http.host });
  logger.info(
    { role: config.role, url: `http://${config.http.host}:${config.http.port}`, engine: database.engine },
    'Tend is listening',
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError) {
    process.stderr.write(`tend: ${error.message}\n`);
  } else {
    logger.fatal({ err: error }, 'failed to start');
  }
  process.exit(1);
});
