import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueryRunner } from 'typeorm';
import { openDatabase } from '../src/database/data-source.factory';
import { DataDirLockedError } from '../src/database/embedded-lock';
import { CheaperEventWrites1764900000000 } from '../migrations/1764900000000-cheaper-event-writes';
import { migrations } from '../src/database/migrations';
import { EVENT_TYPE_PATTERN } from '../src/events/events.schemas';
import { createTestDatabase, type TestDatabase, testEngine } from './support/test-database';

describe(`database schema (${testEngine()})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  it('entities and migrations agree: nothing left for TypeORM to change', async () => {
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('has applied every migration exactly once and re-running is a no-op', async () => {
    const rows = await db.dataSource.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
    expect(await db.dataSource.runMigrations({ transaction: 'each' })).toEqual([]);
  });

  it('stores timestamps with time zone everywhere', async () => {
    const rows = await db.dataSource.query<{ table_name: string; column_name: string }[]>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND data_type = 'timestamp without time zone'`,
    );
    expect(rows).toEqual([]);
  });

  it('enforces named constraints: consent basis needs time, method and source', async () => {
    await db.dataSource.query(`INSERT INTO accounts (external_id, name) VALUES ('a1', 'A')`);
    await expect(
      db.dataSource.query(
        `INSERT INTO contacts (account_id, external_id, email, consent_basis)
         SELECT id, 'c1', 'x@example.jp', 'opt_in' FROM accounts WHERE external_id = 'a1'`,
      ),
    ).rejects.toMatchObject({ driverError: { constraint: 'ck_contacts_consent' } });
  });

  it('1764900000000 goes down and up (and up again, as after a crash mid-way) outside a transaction', async () => {
    const shape = async () =>
      db.dataSource.query<{ name: string; definition: string }[]>(
        `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
          WHERE tablename = 'events' AND indexname LIKE 'ix_events_account%'
         UNION ALL
         SELECT conname, pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' (not valid)' END
           FROM pg_constraint WHERE conrelid = 'events'::regclass AND conname LIKE 'ck_events_type%'
         ORDER BY 1`,
      );
    const migrated = await shape();
    expect(migrated.map((r) => r.name)).toEqual([
      'ck_events_type',
      'ix_events_account_occurred',
      'ix_events_account_type_occurred',
    ]);
    expect(migrated.filter((r) => r.name.startsWith('ix_')).map((r) => r.definition)).toEqual([
      expect.stringContaining('WHERE (account_id IS NOT NULL)'),
      expect.stringContaining('WHERE (account_id IS NOT NULL)'),
    ]);
    const migration = new CheaperEventWrites1764900000000();
    expect(migration.transaction).toBe(false);
    // Each step on a runner of its own, released before the checks read through the pool:
    // on the embedded engine a concurrent index build would wait for the pool's session.
    const run = async (step: (runner: QueryRunner) => Promise<void>) => {
      const runner = db.dataSource.createQueryRunner();
      try {
        await step(runner);
      } finally {
        await runner.release();
      }
    };
    await run((runner) => migration.down(runner));
    const down = await shape();
    expect(down.map((r) => r.name)).toEqual(migrated.map((r) => r.name));
    expect(down.find((r) => r.name === 'ck_events_type')!.definition).toContain('~');
    expect(down.filter((r) => r.definition.includes('WHERE'))).toEqual([]);
    await run((runner) => migration.up(runner));
    await run((runner) => migration.up(runner));
    expect(await shape()).toEqual(migrated);
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries).toEqual([]);
  });

  it('ck_events_type accepts exactly what EVENT_TYPE_PATTERN accepts', async () => {
    const candidates = [
      'a',
      'login',
      'site.page_view',
      'feature_used.v2',
      'a'.repeat(64),
      'a'.repeat(65),
      '',
      'Login',
      '1login',
      '_login',
      '.login',
      'log-in',
      'log in',
      'login\n',
      'ａ',
      'é',
      'aé',
      'a\u00e9'.normalize('NFD'),
      'ログイン',
      'b',
      'z9',
      '{',
      '`',
    ];
    const stored: string[] = [];
    for (const [index, type] of candidates.entries()) {
      const ok = await db.dataSource
        .query(`INSERT INTO events (type, occurred_at, source, idempotency_key) VALUES ($1, now(), 'system', $2)`, [
          type,
          `ck-${index}`,
        ])
        .then(
          () => true,
          (error: { driverError?: { constraint?: string } }) => {
            expect(error.driverError?.constraint).toBe('ck_events_type');
            return false;
          },
        );
      if (ok) stored.push(type);
    }
    expect(stored).toEqual(candidates.filter((type) => EVENT_TYPE_PATTERN.test(type)));
    expect(stored.length).toBeGreaterThan(5);
  });
});

describe('embedded data directory lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tend-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second opener, then allows it after close; a stale lock is taken over', async () => {
    const first = await openDatabase({ kind: 'embedded', dataDir: dir });
    await expect(openDatabase({ kind: 'embedded', dataDir: dir })).rejects.toThrow(DataDirLockedError);
    await first.close();
    expect(existsSync(join(dir, 'tend.lock'))).toBe(false);
    // A crashed process left its pid behind: pid 2^22+1 is above Linux's default pid_max, so it is not running.
    writeFileSync(join(dir, 'tend.lock'), '4194305');
    const second = await openDatabase({ kind: 'embedded', dataDir: dir });
    await second.dataSource.query('SELECT 1');
    await second.close();
  });
});
