import 'reflect-metadata';
import type { Server, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { createApp } from './bootstrap';
import { SystemClock } from './common/clock';
import { configureLogger, logger } from './common/logger';
import { ConfigError, loadConfig, loadDotEnv } from './config/load-config';
import { openDatabase, runMigrations } from './database/data-source.factory';
import { DataDirLockedError } from './database/embedded-lock';
import { TrackingRecorder } from './tracking/tracking-recorder.service';

class PortInUseError extends Error {}

/**
 * Open connections get this long to finish their requests at shutdown (a streamed import, an
 * ingest batch waiting on a lock); then they are closed. Well inside SHUTDOWN_TIMEOUT_MS, which
 * must still leave time to drain the buffers and close the database.
 */
const HTTP_DRAIN_MS = 20_000;
/** With HTTP_REUSE_PORT: how long the old instance keeps its socket while clients move over. */
const HANDOVER_MS = 1_000;

/**
 * The first step of a graceful shutdown, before any buffer drains, so that no request can
 * arrive after the tracking buffer's last write:
 * - every answer from now on carries `Connection: close`, so a keep-alive client reconnects
 *   after its current request instead of meeting a closed socket;
 * - with HTTP_REUSE_PORT, the listening socket stays open for `handoverMs` (new connections
 *   are shared with the new instance, and each gets one answer here, then moves on);
 * - then the listening socket closes, requests already accepted are answered as usual (pixel
 *   hits still recorded), idle connections are closed, and whatever is left after `graceMs`.
 */
async function stopTakingRequests(server: Server, handoverMs: number, graceMs: number): Promise<void> {
  server.prependListener('request', (_request, response: ServerResponse) => {
    response.shouldKeepAlive = false;
  });
  if (handoverMs > 0) await new Promise((resolve) => setTimeout(resolve, handoverMs));
  await new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      server.closeAllConnections();
      done();
    }, graceMs);
    function done(): void {
      clearInterval(idle);
      clearTimeout(deadline);
      resolve();
    }
    // The callback runs once every connection has ended (with an error if it was not listening).
    server.close(() => done());
  });
}

/** Buffers flush and in-flight sends settle within this; past it the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

async function main(): Promise<void> {
  loadDotEnv();
  const { config, generatedSecretsFile, generatedAdminApiKey } = loadConfig();
  configureLogger(config.log);
  if (generatedSecretsFile) {
    logger.warn(
      { file: generatedSecretsFile },
      'generated a tracking secret and an admin API key for the embedded trial; the key is stored only as a hash',
    );
  }
  if (generatedAdminApiKey !== undefined) showNewAdminKeyOnce(generatedAdminApiKey);
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
    // A hung close (a stuck connection, a transport that never answers) must not keep the process alive.
    setTimeout(() => {
      // Say what is lost: tracking hits still in the buffer (none when it drained).
      logger.error(
        { timeoutMs: SHUTDOWN_TIMEOUT_MS, trackingHitsNotWritten: bufferedTrackingHits(app) },
        'shutdown timed out; exiting',
      );
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    void (async () => {
      let code = 0;
      try {
        await stopTakingRequests(app.getHttpServer(), config.http.reusePort ? HANDOVER_MS : 0, HTTP_DRAIN_MS);
        await app.close();
      } catch (error: unknown) {
        logger.error({ err: error }, 'error while closing the app');
        code = 1;
      } finally {
        await database.close();
        logger.info('stopped');
        process.exit(code);
      }
    })();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  const { port, host, reusePort } = config.http;
  try {
    // `reusePort` goes through Nest and Fastify to node:http's listen (Node >= 22.12).
    await app.listen({ port, host, reusePort } as { port: number; host: string });
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new PortInUseError(
        `port ${port} on ${host} is in use by another process. To restart without refusing connections, ` +
          'run the old and the new instance with HTTP_REUSE_PORT=true (PostgreSQL only), start the new one, then stop the old one.',
      );
    }
    throw error;
  }
  logger.info(
    { role: config.role, url: `http://${config.http.host}:${config.http.port}`, engine: database.engine },
    'Tend is listening',
  );
  if (isIP(host) === 0) {
    // Fastify binds every address a name resolves to (localhost: 127.0.0.1 and ::1) and serves
    // all but the first with a server of its own, which the pixel front door and the shutdown
    // hand-over do not reach. Correct answers there, but slower pixels and no hand-over.
    logger.warn(
      { host },
      'HOST is a name, not an address: set an IP address (127.0.0.1, ::, 0.0.0.0) for every listener to get the tracking fast path and graceful restarts',
    );
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof PortInUseError) {
    process.stderr.write(`tend: ${error.message}\n`);
  } else {
    logger.fatal({ err: error }, 'failed to start');
  }
  process.exit(1);
});

/**
 * The generated admin key is shown once, on the terminal, outside the structured log
 * (which never carries secrets); only its hash is kept. `npm run admin-key` makes another.
 */
function showNewAdminKeyOnce(key: string): void {
  process.stderr.write(
    [
      '',
      '  Admin API key (shown once; only its hash is stored, in the data directory):',
      '',
      `    ${key}`,
      '',
      '  Send it in the X-Api-Key header. Lost it? `npm run admin-key` makes a new one.',
      '',
      '',
    ].join('\n'),
  );
}

/** Hits in the tracking buffer, or null where this role has none (ROLE=worker). */
function bufferedTrackingHits(app: Awaited<ReturnType<typeof createApp>>): number | null {
  try {
    return app.get(TrackingRecorder, { strict: false }).stats().buffered;
  } catch {
    return null;
  }
}
