import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageRenderer } from '../src/messaging/messaging.contracts';
import { MessageQueue } from '../src/messaging/send/message-queue.service';
import { validateScenarios } from '../src/scenarios/core/scenario.validator';
import { EnrollmentsRepository, type EntryCandidate } from '../src/scenarios/runtime/enrollments.repository';
import { ScenarioExecutor } from '../src/scenarios/runtime/scenario-executor';
import { ScenarioTriggers } from '../src/scenarios/runtime/scenario-triggers.service';
import { validationEnvironment } from '../src/scenarios/scenario-files';
import { createTestApp, type TestApp } from './support/test-app';
import { testEngine } from './support/test-database';

const DAY = 86_400_000;
const root = join(__dirname, '..');
const catalogFile = { file: '_catalog.yaml', text: readFileSync(join(root, 'scenarios/_catalog.yaml'), 'utf8') };

interface Subject {
  accountId: string;
  contactId: string;
}

describe(`scenario executor (${testEngine()})`, () => {
  let t: TestApp;
  let repo: EnrollmentsRepository;
  let executor: ScenarioExecutor;
  let triggers: ScenarioTriggers;

  beforeAll(async () => {
    t = await createTestApp();
    t.clock.set(new Date('2026-12-01T01:00:00Z'));
    repo = t.app.get(EnrollmentsRepository);
    executor = t.app.get(ScenarioExecutor);
    triggers = t.app.get(ScenarioTriggers);
  });
  afterAll(() => t.close());

  /** Validates a scenario like the loader does and stores its version. */
  async function load(id: string, yaml: string): Promise<{ id: string; version: string }> {
    const text = `id: ${id}\nname: ${id}\nstatus: active\n${yaml}`;
    const result = validateScenarios(
      [{ file: `${id}.yaml`, text }],
      catalogFile,
      validationEnvironment(join(root, 'templates')),
    );
    expect(result.issues).toEqual([]);
    const scenario = result.scenarios[0]!;
    await repo.saveVersion(scenario.definition, scenario.versionHash, result.catalog, scenario.file, t.clock.now());
    return { id, version: scenario.versionHash };
  }

  async function account(externalId: string): Promise<string> {
    const created = await t.api('POST', '/api/accounts', {
      externalId,
      name: `${externalId} 株式会社`,
      timeZone: 'Asia/Tokyo',
    });
    expect(created.status).toBe(201);
    const rows: { id: string }[] = await t.db.dataSource.query(`SELECT id FROM accounts WHERE external_id = $1`, [
      externalId,
    ]);
    return rows[0]!.id;
  }

  async function contact(accountExternalId: string, externalId: string, roles: string[] = ['admin']): Promise<Subject> {
    const created = await t.api('POST', '/api/contacts', {
      externalId,
      accountExternalId,
      email: `${externalId}@example.com`,
      roles,
      consent: { basis: 'existing_relationship' },
    });
    expect(created.status).toBe(201);
    const rows: { id: string; account_id: string }[] = await t.db.dataSource.query(
      `SELECT id, account_id FROM contacts WHERE external_id = $1`,
      [externalId],
    );
    return { accountId: rows[0]!.account_id, contactId: rows[0]!.id };
  }

  const candidate = (s: Subject): EntryCandidate => ({
    accountId: s.accountId,
    contactId: s.contactId,
    entryKey: `contact:${s.contactId}`,
    occurrenceKey: '',
    reason: { test: true },
  });

  async function messagesOf(contactId: string): Promise<{ template: string; intent_key: string }[]> {
    return t.db.dataSource.query(
      `SELECT template, intent_key FROM messages WHERE contact_id = $1 ORDER BY created_at, template`,
      [contactId],
    );
  }

  it('runs a journey step by step: sends once, waits, branches on a human open', async () => {
    const s = await load(
      'welcome-series',
      `trigger: { event: { type: login } }
steps:
  - { id: welcome, send: onboarding/welcome }
  - { id: pause, wait: 2d }
  - id: check
    if: opened('welcome')
    then: [{ id: case-study, send: onboarding/case-study }]
    else: [{ id: reminder, send: onboarding/first-steps-reminder }]`,
    );
    await account('exec-a');
    const opener = await contact('exec-a', 'exec-opener');
    const ignorer = await contact('exec-a', 'exec-ignorer');
    const enrolled = await repo.enroll(
      s.id,
      s.version,
      'contact',
      [candidate(opener), candidate(ignorer)],
      t.clock.now(),
      null,
    );
    expect(enrolled).toHaveLength(2);
    // Entering twice (a second trigger, a second instance) enrolls nobody again.
    expect(await repo.enroll(s.id, s.version, 'contact', [candidate(opener)], t.clock.now(), null)).toEqual([]);

    const first = await executor.drain();
    expect(first).toMatchObject({ claimed: 2, committed: 2, lostLease: 0, failed: 0 });
    expect((await messagesOf(opener.contactId)).map((m) => m.template)).toEqual(['onboarding/welcome']);
    // Nothing is due until the wait ends.
    expect((await executor.drain()).claimed).toBe(0);

    // A human opens the welcome mail of the first contact; a machine opens the second's.
    const [welcomeA] = await t.db.dataSource.query<{ id: string }[]>(
      `SELECT id FROM messages WHERE contact_id = $1 AND template = 'onboarding/welcome'`,
      [opener.contactId],
    );
    const [welcomeB] = await t.db.dataSource.query<{ id: string }[]>(
      `SELECT id FROM messages WHERE contact_id = $1 AND template = 'onboarding/welcome'`,
      [ignorer.contactId],
    );
    const open = (m: string, s2: Subject, classification: string, key: string) =>
      t.db.dataSource.query(
        `INSERT INTO events (type, occurred_at, account_id, contact_id, source, idempotency_key, props)
         VALUES ('email.opened', $1, $2, $3, 'tracking', $4, $5::jsonb)`,
        [
          t.clock.now().toISOString(),
          s2.accountId,
          s2.contactId,
          key,
          JSON.stringify({ messageId: m, classification }),
        ],
      );
    t.clock.advance(DAY);
    await open(welcomeA!.id, opener, 'human', 'open-a');
    await open(welcomeB!.id, ignorer, 'machine', 'open-b');

    t.clock.advance(DAY);
    expect(await executor.drain()).toMatchObject({ claimed: 2, committed: 2 });
    expect((await messagesOf(opener.contactId)).map((m) => m.template)).toEqual([
      'onboarding/welcome',
      'onboarding/case-study',
    ]);
    expect((await messagesOf(ignorer.contactId)).map((m) => m.template)).toEqual([
      'onboarding/welcome',
      'onboarding/first-steps-reminder',
    ]);
    const states: { state: string; ended_at: Date | null }[] = await t.db.dataSource.query(
      `SELECT state, ended_at FROM enrollments WHERE scenario_id = $1`,
      [s.id],
    );
    expect(states.map((r) => r.state)).toEqual(['completed', 'completed']);
  });

  it('a worker that dies after claiming loses nothing: its lease expires and another worker runs the step once', async () => {
    const s = await load(
      'lease-takeover',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/welcome }`,
    );
    await account('exec-b');
    const c = await contact('exec-b', 'exec-lease');
    await repo.enroll(s.id, s.version, 'contact', [candidate(c)], t.clock.now(), null);
    // Worker "dead" claims it and never commits.
    const claimed = await repo.claimDue('dead-worker', t.clock.now(), 60_000, 10);
    expect(claimed.map((e) => e.scenarioId)).toContain(s.id);
    expect((await executor.drain()).claimed).toBe(0);
    t.clock.advance(61_000);
    expect(await executor.drain()).toMatchObject({ committed: 1 });
    // The dead worker waking up cannot write: its lease is gone.
    const m = t.db.dataSource.createQueryRunner();
    try {
      const stale = claimed.find((e) => e.scenarioId === s.id)!;
      const written = await repo.fencedUpdate(
        m.manager,
        'dead-worker',
        [{ state: stale.state, status: 'completed', nextRunAt: null, exitReason: null, variant: null }],
        t.clock.now(),
      );
      expect(written.size).toBe(0);
    } finally {
      await m.release();
    }
    expect(await messagesOf(c.contactId)).toHaveLength(1);
  });

  it('a replayed run records no effect twice (intent keys)', async () => {
    const s = await load(
      'replay',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/welcome }`,
    );
    await account('exec-c');
    const c = await contact('exec-c', 'exec-replay');
    const [id] = await repo.enroll(s.id, s.version, 'contact', [candidate(c)], t.clock.now(), null);
    await executor.drain();
    // Put the enrollment back where it was before the run (as if its commit had been lost after the effects).
    await t.db.dataSource.query(
      `UPDATE enrollments SET state = 'active', cursor = NULL, visits = '{}', next_run_at = $2, ended_at = NULL WHERE id = $1`,
      [id, t.clock.now().toISOString()],
    );
    expect(await executor.drain()).toMatchObject({ committed: 1 });
    expect(await messagesOf(c.contactId)).toHaveLength(1);
    const effects: { n: number }[] = await t.db.dataSource.query(
      `SELECT count(*)::int AS n FROM enrollment_effects WHERE enrollment_id = $1`,
      [id],
    );
    expect(effects[0]!.n).toBe(1);
  });

  it('several workers at once share the due work without doubling anything', async () => {
    const s = await load(
      'parallel',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/welcome }`,
    );
    await account('exec-d');
    const subjects: Subject[] = [];
    for (let i = 0; i < 40; i++) subjects.push(await contact('exec-d', `exec-par-${i}`));
    await repo.enroll(s.id, s.version, 'contact', subjects.map(candidate), t.clock.now(), null);
    const options = { leaseMs: 60_000, batchSize: 7 };
    const runs = await Promise.all(
      ['w1', 'w2', 'w3'].map(async (owner) => {
        let committed = 0;
        for (;;) {
          const r = await executor.runDue(options, owner);
          committed += r.committed;
          if (r.claimed === 0) return committed;
        }
      }),
    );
    expect(runs.reduce((a, b) => a + b, 0)).toBe(40);
    const counts: { n: number; distinct: number }[] = await t.db.dataSource.query(
      `SELECT count(*)::int AS n, count(DISTINCT contact_id)::int AS distinct FROM messages WHERE intent_key LIKE ANY($1)`,
      [
        (
          await t.db.dataSource.query<{ id: string }[]>(`SELECT id FROM enrollments WHERE scenario_id = $1`, [s.id])
        ).map((r) => `${r.id}:%`),
      ],
    );
    expect(counts[0]).toEqual({ n: 40, distinct: 40 });
  });

  it('an account journey mails contacts by role, waits for an event, and hands off on timeout once', async () => {
    const s = await load(
      'account-journey',
      `subject: account
trigger: { event: { type: login } }
steps:
  - { id: notice, send: renewal/value-review, to: { role: operator } }
  - id: wait-login
    wait_for: { event: login, timeout: 7d }
    on_timeout:
      - { id: stalled, handoff: { to: owner, reason: onboarding_stalled, priority: high, note: 'no login' } }
  - { id: tag, set: { on: account, attribute: renewal_contacted, value: true } }
  - { id: mark, set: { on: account, tag: renewal-contacted } }
  - { id: mark-again, set: { on: account, tag: renewal-contacted } }
  - { id: trial-over, set: { on: account, untag: trial } }`,
    );
    const accountId = await account('exec-e');
    await t.db.dataSource.query(`UPDATE accounts SET attributes = '{"tags": ["trial", "kept"]}' WHERE id = $1`, [
      accountId,
    ]);
    const op1 = await contact('exec-e', 'exec-op1', ['operator']);
    const op2 = await contact('exec-e', 'exec-op2', ['operator', 'admin']);
    const admin = await contact('exec-e', 'exec-admin', ['admin']);
    await repo.enroll(
      s.id,
      s.version,
      'account',
      [{ accountId, contactId: null, entryKey: `account:${accountId}`, occurrenceKey: '', reason: {} }],
      t.clock.now(),
      null,
    );
    await executor.drain();
    expect(await messagesOf(op1.contactId)).toHaveLength(1);
    expect(await messagesOf(op2.contactId)).toHaveLength(1);
    expect(await messagesOf(admin.contactId)).toHaveLength(0);

    t.clock.advance(7 * DAY);
    await executor.drain();
    const handoffs: { reason: string; priority: string; kind: string; note: string; status: string }[] =
      await t.db.dataSource.query(`SELECT reason, priority, kind, note, status FROM handoffs WHERE account_id = $1`, [
        accountId,
      ]);
    expect(handoffs).toEqual([
      { reason: 'onboarding_stalled', priority: 'high', kind: 'risk', note: 'no login', status: 'open' },
    ]);
    const attrs: { attributes: Record<string, unknown> }[] = await t.db.dataSource.query(
      `SELECT attributes FROM accounts WHERE id = $1`,
      [accountId],
    );
    // Tags: added once however often set; removed; other tags kept.
    expect(attrs[0]!.attributes).toMatchObject({ renewal_contacted: true, tags: ['kept', 'renewal-contacted'] });
  });

  it('wait_for ends when the awaited event arrives (woken by the per-second scan), not at its timeout', async () => {
    const s = await load(
      'wait-event',
      `trigger: { event: { type: login } }
steps:
  - id: wait-integration
    wait_for: { event: integration_connected, where: { integration: [slack, teams] }, timeout: 7d }
    on_timeout: [{ id: nudge, send: low-usage/nudge }]
  - { id: thanks, send: milestone/first-integration }`,
    );
    await account('exec-f');
    const c = await contact('exec-f', 'exec-waiter');
    await repo.enroll(s.id, s.version, 'contact', [candidate(c)], t.clock.now(), null);
    await executor.drain();
    // An event that does not match the filter, then one that does.
    for (const [key, integration] of [
      ['i-1', 'zoom'],
      ['i-2', 'teams'],
    ] as const) {
      const ingest = await t.api('POST', '/api/events', {
        events: [
          {
            id: key,
            type: 'integration_connected',
            occurredAt: t.clock.now().toISOString(),
            accountExternalId: 'exec-f',
            contactExternalId: 'exec-waiter',
            props: { integration },
          },
        ],
      });
      expect(ingest.status).toBe(200);
      // The worker's per-second scan wakes the enrollment only for the matching event.
      t.clock.advance(1000);
      expect(await triggers.scanArrivals()).toBe(integration === 'zoom' ? 0 : 1);
      await executor.drain();
      const sent = (await messagesOf(c.contactId)).map((m) => m.template);
      expect(sent).toEqual(integration === 'zoom' ? [] : ['milestone/first-integration']);
    }
  });

  it('writes a claimed batch in one transaction: one fenced update and one insert of messages for all its runs', async () => {
    const s = await load(
      'batched',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/welcome }\n  - { id: pause, wait: 1d }`,
    );
    await account('exec-batch');
    const subjects: Subject[] = [];
    for (let i = 0; i < 30; i++) subjects.push(await contact('exec-batch', `exec-batch-${i}`));
    await repo.enroll(s.id, s.version, 'contact', subjects.map(candidate), t.clock.now(), null);
    const updates = jest.spyOn(repo, 'fencedUpdate');
    const enqueue = jest.spyOn(t.app.get(MessageQueue), 'enqueueMany');
    try {
      expect(await executor.runDue({ leaseMs: 60_000, batchSize: 100 }, 'batch-worker', [s.id])).toEqual({
        claimed: 30,
        committed: 30,
        lostLease: 0,
        failed: 0,
      });
      expect(updates).toHaveBeenCalledTimes(1);
      expect(updates.mock.calls[0]![2]).toHaveLength(30);
      expect(enqueue).toHaveBeenCalledTimes(1);
      expect(enqueue.mock.calls[0]![1]).toHaveLength(30);
    } finally {
      updates.mockRestore();
      enqueue.mockRestore();
    }
    for (const subject of subjects) expect(await messagesOf(subject.contactId)).toHaveLength(1);
    // Every send effect is linked to its message; every enrollment waits at its next step.
    const links: { linked: number; waiting: number }[] = await t.db.dataSource.query(
      `SELECT count(f.message_id)::int AS linked, count(*) FILTER (WHERE e.waiting->>'kind' = 'wait')::int AS waiting
         FROM enrollments e JOIN enrollment_effects f ON f.enrollment_id = e.id WHERE e.scenario_id = $1`,
      [s.id],
    );
    expect(links[0]).toEqual({ linked: 30, waiting: 30 });
  });

  it('in a batch, runs whose lease another worker took meanwhile write nothing; the others commit', async () => {
    const s = await load(
      'batch-stolen',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/welcome }`,
    );
    await account('exec-stolen');
    const subjects: Subject[] = [];
    for (let i = 0; i < 10; i++) subjects.push(await contact('exec-stolen', `exec-stolen-${i}`));
    const ids = await repo.enroll(s.id, s.version, 'contact', subjects.map(candidate), t.clock.now(), null);
    const stolen = ids.slice(0, 3);
    // Between the claim and the commit, another worker takes over three of the leases.
    const activity = repo.activity.bind(repo);
    const steal = jest.spyOn(repo, 'activity').mockImplementationOnce(async (enrollmentIds) => {
      await t.db.dataSource.query(`UPDATE enrollments SET lease_owner = 'thief' WHERE id = ANY($1::uuid[])`, [stolen]);
      return activity(enrollmentIds);
    });
    try {
      expect(await executor.runDue({ leaseMs: 60_000, batchSize: 100 }, 'slow-worker', [s.id])).toEqual({
        claimed: 10,
        committed: 7,
        lostLease: 3,
        failed: 0,
      });
    } finally {
      steal.mockRestore();
    }
    const rows: { id: string; state: string; effects: number; messages: number }[] = await t.db.dataSource.query(
      `SELECT e.id, e.state,
              (SELECT count(*)::int FROM enrollment_effects f WHERE f.enrollment_id = e.id) AS effects,
              (SELECT count(*)::int FROM messages m WHERE m.intent_key LIKE e.id || ':%') AS messages
         FROM enrollments e WHERE e.scenario_id = $1`,
      [s.id],
    );
    for (const row of rows) {
      const lost = stolen.includes(row.id);
      expect(row).toEqual({
        id: row.id,
        state: lost ? 'active' : 'completed',
        effects: lost ? 0 : 1,
        messages: lost ? 0 : 1,
      });
    }
  });

  it('a run that cannot be written holds back only itself, not the rest of its batch', async () => {
    const good = await load(
      'batch-good',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/welcome }`,
    );
    const broken = await load(
      'batch-broken',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: study, send: onboarding/case-study }`,
    );
    await account('exec-mixed');
    const subjects: Subject[] = [];
    for (let i = 0; i < 6; i++) subjects.push(await contact('exec-mixed', `exec-mixed-${i}`));
    await repo.enroll(good.id, good.version, 'contact', subjects.slice(0, 5).map(candidate), t.clock.now(), null);
    const [brokenId] = await repo.enroll(
      broken.id,
      broken.version,
      'contact',
      [candidate(subjects[5]!)],
      t.clock.now(),
      null,
    );
    // The template went missing after the scenario was stored.
    const renderer = t.app.get(MessageRenderer);
    const describe = renderer.describe.bind(renderer);
    const missing = jest
      .spyOn(renderer, 'describe')
      .mockImplementation((template, locale) =>
        template === 'onboarding/case-study' ? undefined : describe(template, locale),
      );
    try {
      expect(await executor.runDue({ leaseMs: 60_000, batchSize: 100 }, 'mixed-worker', [good.id, broken.id])).toEqual({
        claimed: 6,
        committed: 5,
        lostLease: 0,
        failed: 1,
      });
    } finally {
      missing.mockRestore();
    }
    for (const subject of subjects.slice(0, 5)) expect(await messagesOf(subject.contactId)).toHaveLength(1);
    // The broken run wrote nothing: no effect, no message, still active under its lease.
    expect(await messagesOf(subjects[5]!.contactId)).toEqual([]);
    const held: { state: string; effects: number }[] = await t.db.dataSource.query(
      `SELECT e.state, (SELECT count(*)::int FROM enrollment_effects f WHERE f.enrollment_id = e.id) AS effects
         FROM enrollments e WHERE e.id = $1`,
      [brokenId],
    );
    expect(held[0]).toEqual({ state: 'active', effects: 0 });
    // Fixed (the template is back): it runs once when its lease expires.
    t.clock.advance(61_000);
    expect(await executor.runDue({ leaseMs: 60_000, batchSize: 100 }, 'mixed-worker', [broken.id])).toMatchObject({
      committed: 1,
      failed: 0,
    });
    expect((await messagesOf(subjects[5]!.contactId)).map((m) => m.template)).toEqual(['onboarding/case-study']);
  });
});
