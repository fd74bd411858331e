import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLines, ProcessGroup } from './support/process-group';
import { type TendProcess, waitReady } from './support/tend-process';
import { closeServerSuite, createServerTestDatabase, serverTendEnv, type TestDatabase } from './support/test-database';
import { journey, root, until } from './support/worker-journeys';

describe('worker processes sharing one database (postgres)', () => {
  const LEASE_MS = 5_000;
  let db: TestDatabase & { url: string };
  let tmp = '';
  const group = new ProcessGroup();

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tend-workers-'));
    db = await createServerTestDatabase({ poolSize: 4 });
    // Every committed write of contacts.attributes, to prove each `set` was applied once.
    const q = db.dataSource;
    await q.query(`CREATE TABLE test_attribute_writes (contact_id uuid NOT NULL, attributes jsonb NOT NULL)`);
    await q.query(
      `CREATE FUNCTION test_log_attribute_write() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO test_attribute_writes VALUES (NEW.id, NEW.attributes); RETURN NULL; END $$`,
    );
    await q.query(
      `CREATE TRIGGER test_attribute_writes AFTER UPDATE OF attributes ON contacts
         FOR EACH ROW EXECUTE FUNCTION test_log_attribute_write()`,
    );
  });

  afterAll(() => closeServerSuite(group, tmp, db));

  /** A scenarios folder holding the catalogue and one scenario. */
  function scenariosDir(name: string, yaml: string, id: string): string {
    const dir = join(tmp, name, 'scenarios');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(root, 'scenarios/_catalog.yaml'), join(dir, '_catalog.yaml'));
    writeFileSync(join(dir, `${id}.yaml`), yaml);
    return dir;
  }

  function workerEnv(name: string, scenarios: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...serverTendEnv(db, join(tmp, name, 'data')),
      ROLE: 'worker',
      SCENARIOS_DIR: scenarios,
      // Nothing leaves the machine; the send worker barely sends (one message per 10 s):
      // this suite is about scenario steps, not the send queue.
      MAIL_TRANSPORT: 'outbox',
      OUTBOX_DIR: join(tmp, name, 'outbox'),
      MAIL_RATE_PER_SECOND: '0.1',
      ...extra,
    };
  }

  /** `accounts` accounts of `perAccount` contacts each, set-based; external ids `<prefix>-<a>-<c>`. */
  async function seed(prefix: string, accounts: number, perAccount: number): Promise<void> {
    await db.dataSource.query(
      `INSERT INTO accounts (external_id, name, time_zone)
         SELECT $1 || '-' || a, $1 || ' ' || a || ' 株式会社', 'Asia/Tokyo' FROM generate_series(1, $2::int) a`,
      [prefix, accounts],
    );
    await db.dataSource.query(
      `INSERT INTO contacts (account_id, external_id, email, roles, consent_basis)
         SELECT a.id, a.external_id || '-' || c, a.external_id || '-' || c || '@example.com', '{admin}',
                'existing_relationship'
           FROM accounts a, generate_series(1, $2::int) c
          WHERE a.external_id ~ ('^' || $1 || '-[0-9]+$')`,
      [prefix, perAccount],
    );
  }

  /** The version the workers stored when they loaded the scenario. */
  async function versionOf(scenarioId: string): Promise<string> {
    const rows: { version_hash: string }[] = await db.dataSource.query(
      `SELECT version_hash FROM scenario_versions WHERE scenario_id = $1`,
      [scenarioId],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!.version_hash;
  }

  /** Enrolls every contact of `prefix` at once (one statement: all become due together). */
  async function enrollAll(scenarioId: string, version: string, prefix: string): Promise<number> {
    const rows: { n: number }[] = await db.dataSource.query(
      `WITH entered AS (
         INSERT INTO enrollments (id, scenario_id, version_hash, subject_kind, account_id, contact_id, entry_key,
                                  occurrence_key, state, next_run_at, entered_at, entry_reason)
         SELECT gen_random_uuid(), $1, $2, 'contact', c.account_id, c.id, 'contact:' || c.id, '', 'active',
                now() - interval '1 second', now() - interval '1 second', '{"test": "workers"}'
           FROM contacts c WHERE c.external_id LIKE $3 || '-%'
         RETURNING 1)
         SELECT count(*)::int AS n FROM entered`,
      [scenarioId, version, prefix],
    );
    return rows[0]!.n;
  }

  interface Progress {
    total: number;
    /** Ran their steps: now in the wait. */
    done: number;
    leased: number;
  }
  async function progress(scenarioId: string): Promise<Progress> {
    const rows: Progress[] = await db.dataSource.query(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE waiting IS NOT NULL)::int AS done,
                count(*) FILTER (WHERE lease_owner IS NOT NULL)::int AS leased
           FROM enrollments WHERE scenario_id = $1`,
      [scenarioId],
    );
    return rows[0]!;
  }

  /** What each process's drains reported ('scenario steps run' lines). */
  function drained(tend: TendProcess): {
    owner: string | undefined;
    claimed: number;
    committed: number;
    lostLease: number;
    failed: number;
  } {
    const lines = logLines(tend.output()).filter((l) => l.msg === 'scenario steps run');
    const sum = (key: string) => lines.reduce((n, l) => n + Number(l[key] ?? 0), 0);
    return {
      owner: lines[0]?.owner as string | undefined,
      claimed: sum('claimed'),
      committed: sum('committed'),
      lostLease: sum('lostLease'),
      failed: sum('failed'),
    };
  }

  const problems = (processes: TendProcess[]) =>
    processes
      .flatMap((p) => logLines(p.output()).filter((l) => Number(l.level) >= 40))
      .map((l) => JSON.stringify(l))
      .slice(0, 20)
      .join('\n');

  /**
   * Exactly-once, read from the database: one send effect and one set effect per enrollment,
   * one message per contact (linked from its effect), one committed attribute write per
   * contact, every enrollment waiting with no lease left.
   */
  async function expectEachStepOnce(scenarioId: string, prefix: string, n: number, attribute: string): Promise<void> {
    const q = db.dataSource;
    const [enrollments] = await q.query<{ total: number; waiting: number; leased: number }[]>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE state = 'active' AND waiting->>'kind' = 'wait'
                  AND next_run_at > now() + interval '6 days')::int AS waiting,
                count(*) FILTER (WHERE lease_owner IS NOT NULL OR lease_until IS NOT NULL)::int AS leased
           FROM enrollments WHERE scenario_id = $1`,
      [scenarioId],
    );
    expect(enrollments).toEqual({ total: n, waiting: n, leased: 0 });

    const effects = await q.query<{ kind: string; n: number; enrollments: number; most: number }[]>(
      `SELECT kind, sum(k)::int AS n, count(*)::int AS enrollments, max(k)::int AS most
           FROM (SELECT f.kind, f.enrollment_id, count(*) AS k
                   FROM enrollment_effects f JOIN enrollments e ON e.id = f.enrollment_id
                  WHERE e.scenario_id = $1 GROUP BY f.kind, f.enrollment_id) x
          GROUP BY kind ORDER BY kind`,
      [scenarioId],
    );
    expect(effects).toEqual([
      { kind: 'send', n, enrollments: n, most: 1 },
      { kind: 'set', n, enrollments: n, most: 1 },
    ]);

    const [messages] = await q.query<{ total: number; contacts: number; most: number; linked: number }[]>(
      `SELECT count(*)::int AS total, count(DISTINCT m.contact_id)::int AS contacts,
                COALESCE(max(per.k), 0)::int AS most,
                (SELECT count(*)::int FROM enrollment_effects f JOIN enrollments e ON e.id = f.enrollment_id
                   JOIN messages m2 ON m2.id = f.message_id AND m2.contact_id = e.contact_id
                  WHERE e.scenario_id = $1 AND f.kind = 'send') AS linked
           FROM messages m JOIN contacts c ON c.id = m.contact_id
           JOIN (SELECT contact_id, count(*) AS k FROM messages GROUP BY contact_id) per ON per.contact_id = m.contact_id
          WHERE c.external_id LIKE $2 || '-%'`,
      [scenarioId, prefix],
    );
    expect(messages).toEqual({ total: n, contacts: n, most: 1, linked: n });

    const [writes] = await q.query<{ total: number; contacts: number; set: number }[]>(
      `SELECT count(*)::int AS total, count(DISTINCT w.contact_id)::int AS contacts,
                count(*) FILTER (WHERE w.attributes->>$2 = 'true')::int AS set
           FROM test_attribute_writes w JOIN contacts c ON c.id = w.contact_id WHERE c.external_id LIKE $1 || '-%'`,
      [prefix, attribute],
    );
    expect(writes).toEqual({ total: n, contacts: n, set: n });
  }

  it('three worker processes run 10,000 due enrollments: every effect exactly once, the work shared', async () => {
    const N = 10_000;
    const dir = scenariosDir('share', journey('worker-share', 'onboarding/welcome', 'welcomed'), 'worker-share');
    await seed('share', 1_000, 10);
    const workers = [1, 2, 3].map(() => group.start(workerEnv('share', dir)));
    const bootStarted = Date.now();
    await Promise.all(workers.map((w) => waitReady(w)));
    const bootMs = Date.now() - bootStarted;
    const version = await versionOf('worker-share');

    // All 10,000 become due at once, while the three workers are running.
    const started = Date.now();
    expect(await enrollAll('worker-share', version, 'share')).toBe(N);
    await until(
      async () => {
        const p = await progress('worker-share');
        return p.done === N && p.leased === 0;
      },
      100_000,
      () => problems(workers),
      200,
    );
    const runMs = Date.now() - started;
    // Each drain logs when it ends (just after its last commit).
    await until(
      async () => workers.reduce((n, w) => n + drained(w).committed, 0) >= N,
      10_000,
      () => JSON.stringify(workers.map(drained)),
    );

    await expectEachStepOnce('worker-share', 'share', N, 'welcomed');
    const shares = workers.map(drained);
    // Three distinct workers, each committed part of the work; nothing twice, nothing lost or failed.
    expect(new Set(shares.map((s) => s.owner)).size).toBe(3);
    for (const s of shares) expect(s.committed).toBeGreaterThan(0);
    expect(shares.reduce((n, s) => n + s.committed, 0)).toBe(N);
    expect(shares.reduce((n, s) => n + s.claimed, 0)).toBe(N);
    expect(shares.map((s) => [s.lostLease, s.failed])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    console.log(
      `3 workers (boot ${bootMs} ms): ${N} enrollments in ${runMs} ms (${Math.round((N / runMs) * 1000)}/s); ` +
        `committed per worker ${shares.map((s) => s.committed).join(' / ')}`,
    );
    await Promise.all(workers.map((w) => group.kill(w)));
  }, 150_000);

  it('a worker killed mid-batch loses nothing: its lease expires and another worker runs the rest once', async () => {
    const N = 1_000;
    const BATCH = 100;
    const dir = scenariosDir('takeover', journey('worker-takeover', 'low-usage/nudge', 'nudged'), 'worker-takeover');
    await seed('takeover', 100, 10);
    // Batches of 100 (a batch commits as a whole, in one transaction): ten of them, so the
    // kill lands while one is claimed and not committed.
    const doomed = group.start(
      workerEnv('takeover', dir, { SCENARIO_BATCH_SIZE: String(BATCH), SCENARIO_LEASE_MS: String(LEASE_MS) }),
    );
    await waitReady(doomed);
    const version = await versionOf('worker-takeover');
    expect(await enrollAll('worker-takeover', version, 'takeover')).toBe(N);

    // Mid-batch: at least one batch committed, the next claimed and leased to it.
    await until(
      async () => {
        const p = await progress('worker-takeover');
        return p.done >= BATCH && p.leased > 0;
      },
      30_000,
      () => problems([doomed]),
      10,
    );
    await group.kill(doomed);
    // Its connections are gone (a transaction it had open is rolled back) before we look.
    await until(
      async () =>
        (
          await db.dataSource.query<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`,
          )
        )[0]!.n === 0,
      10_000,
      () => 'the killed worker still has busy connections',
      20,
    );
    const held: { lease_owner: string; lease_until: Date; n: number }[] = await db.dataSource.query(
      `SELECT lease_owner, lease_until, count(*)::int AS n FROM enrollments
          WHERE scenario_id = 'worker-takeover' AND lease_owner IS NOT NULL GROUP BY 1, 2`,
    );
    // One batch, one owner, one lease: the dead worker's.
    expect(held).toHaveLength(1);
    const dead = held[0]!;
    const atKill = await progress('worker-takeover');
    expect(atKill.done).toBeGreaterThan(0);
    // What it committed are whole batches; the batch it was running is held, none of it written.
    expect(atKill.done % BATCH).toBe(0);
    expect(dead.n).toBe(BATCH);
    expect(atKill.done + dead.n).toBeLessThanOrEqual(N);
    const heldIds = (
      await db.dataSource.query<{ id: string }[]>(`SELECT id FROM enrollments WHERE lease_owner = $1`, [
        dead.lease_owner,
      ])
    ).map((r) => r.id);

    const replacement = group.start(workerEnv('takeover-2', dir, { SCENARIO_LEASE_MS: String(LEASE_MS) }));
    const started = Date.now();
    await until(
      async () => {
        const p = await progress('worker-takeover');
        return p.done === N && p.leased === 0;
      },
      60_000,
      () => problems([doomed, replacement]),
      100,
    );
    const takeoverMs = Date.now() - started;
    await until(
      async () => drained(replacement).committed >= N - atKill.done,
      10_000,
      () => JSON.stringify(drained(replacement)),
    );

    await expectEachStepOnce('worker-takeover', 'takeover', N, 'nudged');
    // The rows the dead worker held were run only after its lease expired (an effect's
    // created_at is the claim time of the run that wrote it)...
    const [takenOver] = await db.dataSource.query<{ n: number; earliest: Date }[]>(
      `SELECT count(DISTINCT enrollment_id)::int AS n, min(created_at) AS earliest
           FROM enrollment_effects WHERE enrollment_id = ANY($1::uuid[])`,
      [heldIds],
    );
    expect(takenOver!.n).toBe(dead.n);
    expect(takenOver!.earliest.getTime()).toBeGreaterThanOrEqual(dead.lease_until.getTime());
    // ...and what it committed before dying (its earlier batches, claimed no later than the
    // held one) was not run again: the replacement committed the rest.
    const [byDead] = await db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM enrollment_effects f JOIN enrollments e ON e.id = f.enrollment_id
          WHERE e.scenario_id = 'worker-takeover' AND f.kind = 'send'
            AND f.created_at <= $1::timestamptz - make_interval(secs => $2 / 1000.0)`,
      [dead.lease_until.toISOString(), LEASE_MS],
    );
    expect(byDead!.n).toBe(atKill.done);
    const rest = drained(replacement);
    expect(rest).toMatchObject({ committed: N - atKill.done, lostLease: 0, failed: 0 });
    expect(rest.owner).not.toBe(dead.lease_owner);
    console.log(
      `killed with ${atKill.done} committed and ${dead.n} claimed; replacement ran ${rest.committed} ` +
        `(${dead.n} after the ${LEASE_MS} ms lease) in ${takeoverMs} ms from its start`,
    );
  }, 120_000);
});
