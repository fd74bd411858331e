import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, TEST_SENDER, type TestDatabase, testEngine } from './support/test-database';
import { findRoot, freePort, startTend, stopTend, waitReady } from './support/tend-process';

// These tests start the built server as a real process, as `npm start` does (`npm test` builds first).
describe(`npm start as a real process (${testEngine()})`, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tend-boot-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  if (testEngine() === 'embedded') {
    it('starts with no settings, refuses a second instance on the same data, keeps data across restarts', async () => {
      const env = { DATA_DIR: join(dir, 'data'), OUTBOX_DIR: join(dir, 'outbox') };
      const first = startTend(env, freePort());
      const readyMs = await waitReady(first);
      expect(readyMs).toBeLessThan(20_000);
      // The generated key is shown once on the terminal; only its hash is stored.
      const adminApiKey = /^ {4}(tend_[A-Za-z0-9_-]{32})$/m.exec(first.output())?.[1] ?? 'no key shown';
      expect(readFileSync(join(dir, 'data', 'secrets.json'), 'utf8')).not.toContain(adminApiKey);

      const second = startTend(env, freePort());
      expect(await second.exited).toBe(1);
      expect(second.output()).toContain(`The embedded database in ${join(dir, 'data')} is already in use by process`);

      const created = await fetch(`${first.baseUrl}/api/accounts`, {
        method: 'POST',
        headers: { 'x-api-key': adminApiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ externalId: 'persisted', name: '永続 株式会社' }),
      });
      expect(created.status).toBe(201);
      expect(await stopTend(first)).toBe(0);
      expect(first.output()).toContain('"msg":"stopped"');
      expect(existsSync(join(dir, 'data', 'tend.lock'))).toBe(false);

      const third = startTend(env, freePort());
      await waitReady(third);
      const read = await fetch(`${third.baseUrl}/api/accounts/persisted`, { headers: { 'x-api-key': adminApiKey } });
      expect(await read.json()).toMatchObject({ name: '永続 株式会社' });
      expect(await stopTend(third)).toBe(0);
      // The JSON log lines never carry the key; the restart does not show it again.
      const logLines = (first.output() + third.output()).split('\n').filter((line) => line.startsWith('{'));
      expect(logLines.length).toBeGreaterThan(3);
      expect(logLines.join('\n')).not.toContain(adminApiKey);
      expect(third.output()).not.toContain(adminApiKey);
    });

    it('warns at start when HOST is a name rather than an address', async () => {
      const tend = startTend(
        { DATA_DIR: join(dir, 'data'), OUTBOX_DIR: join(dir, 'outbox'), HOST: 'localhost' },
        freePort(),
      );
      await waitReady(tend);
      expect(await stopTend(tend)).toBe(0);
      expect(tend.output()).toContain('HOST is a name, not an address');
    });

    it('npm run migrate takes its settings from .env in the working directory, as npm start does', async () => {
      writeFileSync(join(dir, '.env'), `DATA_DIR=${join(dir, 'from-dotenv')}\n`);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(findRoot(__dirname), 'dist/src/database/migrate.js')],
        {
          cwd: dir,
          env: { PATH: process.env.PATH, HOME: process.env.HOME },
        },
      );
      expect(stdout).toContain('migrations applied');
      expect(existsSync(join(dir, 'from-dotenv'))).toBe(true);
      expect(existsSync(join(dir, 'data'))).toBe(false);
    });
  } else {
    let db: TestDatabase;
    beforeAll(async () => {
      // An empty database: the instances themselves run the migrations, concurrently.
      db = await createTestDatabase({ migrate: false });
    });
    afterAll(async () => {
      await db.close();
    });

    it('runs an api and a worker instance side by side on one server, migrating once', async () => {
      const env = {
        DATABASE_URL: db.url,
        DATA_DIR: join(dir, 'data'),
        TRACKING_SECRET: `k1:${'s'.repeat(40)}`,
        ADMIN_API_KEY: 'boot-test-admin-key-0123456789',
        PUBLIC_BASE_URL: 'https://tend.example.com',
        MAIL_FROM: 'Tend <cs@example.com>',
        ...TEST_SENDER,
      };
      const api = startTend({ ...env, ROLE: 'api' }, freePort());
      const worker = startTend({ ...env, ROLE: 'worker' }, freePort());
      await Promise.all([waitReady(api), waitReady(worker)]);
      const migrations = await db.dataSource.query<{ name: string }[]>('SELECT name FROM migrations');
      expect(migrations.length).toBeGreaterThan(0);
      expect(new Set(migrations.map((m) => m.name)).size).toBe(migrations.length);
      const headers = { 'x-api-key': env.ADMIN_API_KEY };
      expect((await fetch(`${api.baseUrl}/api/accounts`, { headers })).status).toBe(200);
      // The worker role serves health endpoints only.
      expect((await fetch(`${worker.baseUrl}/api/accounts`, { headers })).status).toBe(404);
      expect(existsSync(join(dir, 'data', 'secrets.json'))).toBe(false);
      expect(await stopTend(api)).toBe(0);
      expect(await stopTend(worker)).toBe(0);
    });

    it('refuses to boot in production without its secrets, listing each', async () => {
      const tend = startTend({ DATABASE_URL: db.url, DATA_DIR: join(dir, 'data') }, freePort());
      expect(await tend.exited).toBe(1);
      for (const key of [
        'TRACKING_SECRET',
        'ADMIN_API_KEY',
        'PUBLIC_BASE_URL',
        'MAIL_FROM',
        'SENDER_NAME',
        'SENDER_POSTAL_ADDRESS',
        'SENDER_CONTACT',
      ]) {
        expect(tend.output()).toContain(key);
      }
    });
  }
});
