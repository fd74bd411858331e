import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/bootstrap';
import { ManualClock } from '../../src/common/clock';
import type { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { createTestDatabase, type TestDatabase } from './test-database';

export const TEST_API_KEY = 'test-admin-key-0123456789abcdef';
export const TEST_TRACKING_SECRET = 'k1:test-tracking-secret-0123456789abcdef0123';

export interface TestApp {
  app: NestFastifyApplication;
  db: TestDatabase;
  config: AppConfig;
  clock: ManualClock;
  tmpDir: string;
  /** Sends a request with the admin API key. */
  api(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: () => unknown; body: string; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export function testConfig(overrides: NodeJS.ProcessEnv = {}): { config: AppConfig; tmpDir: string } {
  const tmpDir = mkdtempSync(join(tmpdir(), 'tend-test-'));
  const { config } = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: join(tmpDir, 'data'),
    OUTBOX_DIR: join(tmpDir, 'outbox'),
    // No scenarios run unless a test loads them.
    SCENARIOS_DIR: join(tmpDir, 'scenarios'),
    ADMIN_API_KEY: TEST_API_KEY,
    TRACKING_SECRET: TEST_TRACKING_SECRET,
    LOG_LEVEL: 'silent',
    ...overrides,
  });
  return { config, tmpDir };
}

/** The whole HTTP application on a fresh test database, driven with Fastify's inject (no socket). */
export async function createTestApp(overrides: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  const { config, tmpDir } = testConfig(overrides);
  const db = await createTestDatabase();
  const clock = new ManualClock(new Date('2026-11-01T00:00:00Z'));
  const app = await createApp({ config, database: db, clock });
  return {
    app,
    db,
    config,
    clock,
    tmpDir,
    async api(method, url, body, headers = {}) {
      const isString = typeof body === 'string';
      const response = await app.inject({
        method,
        url,
        headers: {
          'x-api-key': TEST_API_KEY,
          ...(body !== undefined && !isString ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body === undefined ? {} : { payload: isString ? body : JSON.stringify(body) }),
      });
      return {
        status: response.statusCode,
        json: () => response.json(),
        body: response.body,
        headers: response.headers,
      };
    },
    async close() {
      await app.close();
      await db.close();
      rmSync(tmpDir, { recursive: true, force: true });
    },
  };
}
