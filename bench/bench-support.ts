import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startTend, stopTend, type TendProcess, waitReady } from '../test/support/tend-process';
import { TEST_SENDER } from '../test/support/test-database';

export type Engine = 'postgres' | 'embedded';

export const BENCH_API_KEY = 'bench-admin-key-0123456789abcdef';
export const BENCH_TRACKING_SECRET = `k1:${'b'.repeat(48)}`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface BenchTarget {
  engine: Engine;
  /** Environment for a Tend process on this target. */
  env: NodeJS.ProcessEnv;
  /** Runs SQL on the target database (postgres only; the embedded engine is locked by its process). */
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  dispose(): Promise<void>;
}

/** A fresh database: its own database on the server, or a fresh embedded data directory. */
export async function createTarget(engine: Engine, extraEnv: NodeJS.ProcessEnv = {}): Promise<BenchTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'tend-bench-'));
  const common = {
    ADMIN_API_KEY: BENCH_API_KEY,
    TRACKING_SECRET: BENCH_TRACKING_SECRET,
    DATA_DIR: join(dir, 'data'),
    OUTBOX_DIR: join(dir, 'outbox'),
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  if (engine === 'embedded') {
    return {
      engine,
      env: common,
      sql: () => Promise.reject(new Error('no SQL access to the embedded engine while Tend holds it')),
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `tend_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  return {
    engine,
    env: {
      ...common,
      DATABASE_URL: url.toString(),
      PUBLIC_BASE_URL: 'http://127.0.0.1',
      MAIL_FROM: 'Bench <bench@example.com>',
      ...TEST_SENDER,
      DATABASE_POOL_SIZE: '10',
    },
    sql: async <T>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as T[],
    dispose: async () => {
      await client.end();
      const dropper = new Client({ connectionString: serverUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startOn(target: BenchTarget, env: NodeJS.ProcessEnv = {}): Promise<TendProcess> {
  const port = await freePort();
  // BENCH_CPU_PROF=<dir>: every Tend process of the run writes a V8 CPU profile there on exit.
  const profile = process.env.BENCH_CPU_PROF;
  const tend = startTend(
    {
      ...target.env,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      ROLE: 'api',
      ...(profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` } : {}),
      ...env,
    },
    port,
  );
  await waitReady(tend, 120_000);
  return tend;
}

export { stopTend };

export async function api(
  tend: TendProcess,
  method: string,
  path: string,
  body: string,
  contentType: string,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${tend.baseUrl}${path}`, {
    method,
    headers: { 'x-api-key': BENCH_API_KEY, 'content-type': contentType },
    body,
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: response.status, json };
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? Math.round((count / ms) * 1000) : 0;
}
