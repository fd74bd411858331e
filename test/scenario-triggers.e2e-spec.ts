import { UsageRollups } from '../src/metrics/usage-rollups.service';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnrollmentsRepository } from '../src/scenarios/runtime/enrollments.repository';
import { ScenarioExecutor } from '../src/scenarios/runtime/scenario-executor';
import { ScenarioRegistry } from '../src/scenarios/runtime/scenario-registry.service';
import {
  audienceCondition,
  lastScheduledTime,
  ScenarioTriggers,
} from '../src/scenarios/runtime/scenario-triggers.service';
import { ScenarioWorker } from '../src/scenarios/runtime/scenario-worker.service';
import { createTestApp, type TestApp } from './support/test-app';
import { testEngine } from './support/test-database';

const DAY = 86_400_000;
const root = join(__dirname, '..');

describe(`scenario triggers and loading (${testEngine()})`, () => {
  let t: TestApp;
  let dir: string;
  let registry: ScenarioRegistry;
  let triggers: ScenarioTriggers;

  beforeAll(async () => {
    t = await createTestApp();
    // Thursday 2026-12-03 10:00 in Tokyo.
    t.clock.set(new Date('2026-12-03T01:00:00Z'));
    dir = t.config.scenariosDir;
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(root, 'scenarios/_catalog.yaml'), join(dir, '_catalog.yaml'));
    registry = t.app.get(ScenarioRegistry);
    triggers = t.app.get(ScenarioTriggers);
  });
  afterAll(() => t.close());

  const write = (id: string, body: string) =>
    writeFileSync(join(dir, `${id}.yaml`), `id: ${id}\nname: ${id}\nstatus: active\n${body}`);

  async function setup(accountId: string, logins: number, contacts: { id: string; roles: string[] }[]): Promise<void> {
    expect((await t.api('POST', '/api/accounts', { externalId: accountId, name: accountId })).status).toBe(201);
    for (const c of contacts) {
      const r = await t.api('POST', '/api/contacts', {
        externalId: c.id,
        accountExternalId: accountId,
        email: `${c.id}@example.com`,
        roles: c.roles,
      });
      expect(r.status).toBe(201);
    }
    if (logins > 0) {
      const events = Array.from({ length: logins }, (_, i) => ({
        id: `${accountId}-login-${i}`,
        type: 'login',
        occurredAt: new Date(t.clock.now().getTime() - (i + 1) * 3_600_000).toISOString(),
        accountExternalId: accountId,
      }));
      expect((await t.api('POST', '/api/events', { events })).status).toBe(200);
      // In the rollups, as the worker's tick would have them before scanning.
      await t.app.get(UsageRollups).fold();
    }
  }

  async function enrolledContacts(scenarioId: string): Promise<string[]> {
    const rows: { external_id: string }[] = await t.db.dataSource.query(
      `SELECT c.external_id FROM enrollments e JOIN contacts c ON c.id = e.contact_id WHERE e.scenario_id = $1 ORDER BY 1`,
      [scenarioId],
    );
    return rows.map((r) => r.external_id);
  }

  it('a scheduled condition enrolls the whole matching audience with one query, once per schedule and per contact', async () => {
    write(
      'low-usage-test',
      `audience: { roles: [admin] }
trigger:
  condition: { when: account.logins_14d < 3, check: daily at 09:00 }
entry: { once_per: contact }
steps:
  - { id: nudge, send: low-usage/nudge }`,
    );
    await setup('trig-low', 1, [
      { id: 'trig-low-admin', roles: ['admin'] },
      { id: 'trig-low-operator', roles: ['operator'] },
    ]);
    await setup('trig-busy', 5, [{ id: 'trig-busy-admin', roles: ['admin'] }]);
    const report = await registry.reload();
    expect(report.problems).toEqual([]);
    const active = registry.active();
    expect((await triggers.scanConditions(active)).get('low-usage-test')).toBe(1);
    expect(await enrolledContacts('low-usage-test')).toEqual(['trig-low-admin']);
    // The same scheduled time again (another instance, the next tick): not run again.
    expect((await triggers.scanConditions(active)).get('low-usage-test')).toBeUndefined();
    // The next day's check runs, but the contact already entered once.
    t.clock.advance(DAY);
    expect((await triggers.scanConditions(active)).get('low-usage-test')).toBe(0);
    const reason: { entry_reason: Record<string, unknown> }[] = await t.db.dataSource.query(
      `SELECT entry_reason FROM enrollments WHERE scenario_id = 'low-usage-test'`,
    );
    expect(reason[0]!.entry_reason).toMatchObject({ trigger: 'condition' });

    // Why: the admin API shows each condition for a subject, and its enrollments.
    const operator = (await t.api('GET', '/api/scenarios/low-usage-test/explain?subject=trig-low-operator')).json();
    expect(operator).toMatchObject({
      matchesNow: false,
      enrollments: [],
      checks: expect.arrayContaining([
        { part: 'audience', condition: "('admin' in contact.roles)", holds: false },
        { part: 'trigger', condition: 'account.logins_14d < 3', holds: true },
      ]) as unknown,
    });
    const admin = (await t.api('GET', '/api/scenarios/low-usage-test/explain?subject=trig-low-admin')).json();
    expect(admin).toMatchObject({
      matchesNow: true,
      enrollments: [{ state: 'active', entryReason: { trigger: 'condition' } }],
    });
    const busy = (await t.api('GET', '/api/scenarios/low-usage-test/explain?subject=trig-busy-admin')).json();
    expect(busy).toMatchObject({
      matchesNow: false,
      checks: expect.arrayContaining([
        { part: 'trigger', condition: 'account.logins_14d < 3', holds: false },
      ]) as unknown,
    });
    expect((await t.api('GET', '/api/scenarios/low-usage-test/explain?subject=nobody')).status).toBe(404);
    expect((await t.api('GET', '/api/scenarios/nope/explain?subject=x')).status).toBe(404);
    expect((await t.api('GET', '/api/scenarios/low-usage-test/explain')).status).toBe(400);
    const list = (await t.api('GET', '/api/scenarios')).json() as { items: { id: string; status: string }[] };
    expect(list.items).toContainEqual(expect.objectContaining({ id: 'low-usage-test', status: 'active' }));
  });

  it('an event trigger enrolls at the Nth matching event, once', async () => {
    write(
      'export-milestone-test',
      `subject: account
trigger:
  event: { type: report_exported, count: 3 }
entry: { once_per: account }
steps:
  - { id: celebrate, send: milestone/celebration, to: { role: admin } }`,
    );
    await registry.reload();
    await setup('trig-export', 0, [{ id: 'trig-export-admin', roles: ['admin'] }]);
    const exportEvents = async (from: number, n: number) => {
      const events = Array.from({ length: n }, (_, i) => ({
        id: `exp-${from + i}`,
        type: 'report_exported',
        occurredAt: t.clock.now().toISOString(),
        accountExternalId: 'trig-export',
      }));
      expect((await t.api('POST', '/api/events', { events })).status).toBe(200);
    };
    const scan = async () => (await triggers.scanEvents(registry.active())).get('export-milestone-test');
    await scan(); // the first scan sets the watermark
    await exportEvents(0, 2);
    t.clock.advance(1000);
    expect(await scan()).toBe(0);
    await exportEvents(2, 1);
    t.clock.advance(1000);
    expect(await scan()).toBe(1);
    await exportEvents(3, 1);
    t.clock.advance(1000);
    expect(await scan()).toBe(0);
    const rows: { occurrence_key: string }[] = await t.db.dataSource.query(
      `SELECT occurrence_key FROM enrollments WHERE scenario_id = 'export-milestone-test'`,
    );
    expect(rows).toEqual([{ occurrence_key: 'count:3' }]);
  });

  it('an invalid file is reported and its previous valid version keeps running; a fix loads a new version', async () => {
    write('versioned-test', `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/welcome }`);
    await registry.reload();
    const first = registry.all().find((s) => s.compiled.id === 'versioned-test')!.compiled.versionHash;
    write('versioned-test', `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, sned: onboarding/welcome }`);
    const brokenResponse = await t.api('POST', '/api/scenarios/reload');
    expect(brokenResponse.status).toBe(200);
    const broken = brokenResponse.json() as { problems: string[] };
    expect(broken.problems).toEqual([
      expect.stringMatching(/versioned-test\.yaml:6:5: a step needs exactly one of .*did you mean 'send'/),
    ]);
    expect(registry.all().find((s) => s.compiled.id === 'versioned-test')!.compiled.versionHash).toBe(first);
    write(
      'versioned-test',
      `trigger: { event: { type: login } }\nsteps:\n  - { id: hello, send: onboarding/case-study }`,
    );
    await registry.reload();
    const second = registry.all().find((s) => s.compiled.id === 'versioned-test')!.compiled.versionHash;
    expect(second).not.toBe(first);
    const versions: { version_hash: string }[] = await t.db.dataSource.query(
      `SELECT version_hash FROM scenario_versions WHERE scenario_id = 'versioned-test' ORDER BY loaded_at`,
    );
    expect(versions.map((v) => v.version_hash).sort()).toEqual([first, second].sort());
  });

  it('the worker tick enrolls on an event and runs the first step in the same tick', async () => {
    write(
      'tick-test',
      `trigger:
  event: { type: integration_connected }
steps:
  - { id: congratulate, send: milestone/first-integration }`,
    );
    await registry.reload();
    await setup('trig-tick', 0, [{ id: 'trig-tick-admin', roles: ['admin'] }]);
    const worker = t.app.get(ScenarioWorker);
    await worker.tick(); // watermark
    const started = performance.now();
    const ingest = await t.api('POST', '/api/events', {
      events: [
        {
          id: 'int-1',
          type: 'integration_connected',
          occurredAt: t.clock.now().toISOString(),
          accountExternalId: 'trig-tick',
          contactExternalId: 'trig-tick-admin',
          props: { integration: 'slack' },
        },
      ],
    });
    expect(ingest.status).toBe(200);
    await worker.tick();
    const ms = performance.now() - started;
    const sent: { template: string }[] = await t.db.dataSource.query(
      `SELECT m.template FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.external_id = 'trig-tick-admin'`,
    );
    expect(sent).toEqual([{ template: 'milestone/first-integration' }]);
    console.log(`event ingested -> enrolled and message queued in one tick: ${ms.toFixed(0)} ms`);
  });

  it('pausing holds enrollments; archiving exits them with a reason', async () => {
    const body = `trigger: { event: { type: login } }\nsteps:\n  - { id: pause, wait: 1d }\n  - { id: hello, send: onboarding/welcome }`;
    write('archive-test', body);
    await registry.reload();
    await setup('trig-archive', 0, [{ id: 'trig-archive-admin', roles: ['admin'] }]);
    const rows: { id: string; account_id: string }[] = await t.db.dataSource.query(
      `SELECT id, account_id FROM contacts WHERE external_id = 'trig-archive-admin'`,
    );
    const loaded = registry.all().find((s) => s.compiled.id === 'archive-test')!;
    await t.app.get(EnrollmentsRepository).enroll(
      'archive-test',
      loaded.compiled.versionHash,
      'contact',
      [
        {
          accountId: rows[0]!.account_id,
          contactId: rows[0]!.id,
          entryKey: `contact:${rows[0]!.id}`,
          occurrenceKey: '',
          reason: {},
        },
      ],
      t.clock.now(),
      null,
    );
    const executor = t.app.get(ScenarioExecutor);
    const run = () =>
      executor.drain(
        undefined,
        registry.active().map((s) => s.compiled.id),
      );
    expect((await run()).committed).toBe(1); // now waiting a day
    writeFileSync(join(dir, 'archive-test.yaml'), `id: archive-test\nname: archive-test\nstatus: paused\n${body}`);
    await registry.reload();
    t.clock.advance(2 * DAY);
    expect((await run()).claimed).toBe(0); // held while paused
    writeFileSync(join(dir, 'archive-test.yaml'), `id: archive-test\nname: archive-test\nstatus: archived\n${body}`);
    await registry.reload();
    const state: { state: string; exit_reason: string }[] = await t.db.dataSource.query(
      `SELECT state, exit_reason FROM enrollments WHERE scenario_id = 'archive-test'`,
    );
    expect(state).toEqual([{ state: 'exited', exit_reason: 'archived' }]);
    const sent: unknown[] = await t.db.dataSource.query(
      `SELECT 1 FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.external_id = 'trig-archive-admin'`,
    );
    expect(sent).toEqual([]);
  });

  it('a date offset enrolls on the day, at the local time, once per date and offset', async () => {
    write(
      'renewal-test',
      `subject: account
trigger:
  date: { fact: account.renewal_date, offsets: [-90d, -60d], at: '10:00' }
entry: { again_after: 20d, per: account }
steps:
  - { id: notice, send: renewal/value-review, to: { role: operator } }`,
    );
    await registry.reload();
    // Friday 2026-12-04 09:30 in Tokyo; renewals 90 and 60 days later, and one 89 days later.
    t.clock.set(new Date('2026-12-04T00:30:00Z'));
    const renewal = async (externalId: string, date: string) => {
      const r = await t.api('POST', '/api/accounts', {
        externalId,
        name: externalId,
        renewalDate: date,
        timeZone: 'Asia/Tokyo',
      });
      expect(r.status).toBe(201);
    };
    await renewal('date-90', '2027-03-04');
    await renewal('date-60', '2027-02-02');
    await renewal('date-89', '2027-03-03');
    const scan = async () => (await triggers.scanDates(registry.active())).get('renewal-test');
    expect(await scan()).toBe(0); // 09:30: before 10:00 local
    t.clock.set(new Date('2026-12-04T01:00:00Z')); // 10:00 Tokyo
    expect(await scan()).toBe(2);
    expect(await scan()).toBe(0);
    const rows: { external_id: string; occurrence_key: string }[] = await t.db.dataSource.query(
      `SELECT a.external_id, e.occurrence_key FROM enrollments e JOIN accounts a ON a.id = e.account_id
        WHERE e.scenario_id = 'renewal-test' ORDER BY 1`,
    );
    expect(rows).toEqual([
      { external_id: 'date-60', occurrence_key: 'account.renewal_date:-60d:2027-02-02' },
      { external_id: 'date-90', occurrence_key: 'account.renewal_date:-90d:2027-03-04' },
    ]);
  });

  it("a contact's date offset follows the contact's own zone, in the scan and in explain", async () => {
    write(
      'contact-date-test',
      `subject: contact
trigger:
  date: { fact: account.renewal_date, offsets: [-30d], at: '09:00' }
entry: { once_per: contact }
steps:
  - { id: notice, send: renewal/value-review }`,
    );
    await registry.reload();
    const created = await t.api('POST', '/api/accounts', {
      externalId: 'zone-acct',
      name: 'zone-acct',
      renewalDate: '2027-01-31',
      timeZone: 'Asia/Tokyo',
    });
    expect(created.status).toBe(201);
    for (const [externalId, timeZone] of [
      ['zone-tokyo', 'Asia/Tokyo'],
      ['zone-la', 'America/Los_Angeles'],
    ] as const) {
      const c = await t.api('POST', '/api/contacts', {
        externalId,
        accountExternalId: 'zone-acct',
        email: `${externalId}@example.com`,
        timeZone,
        consent: { basis: 'existing_relationship' },
      });
      expect(c.status).toBe(201);
    }
    // 2027-01-01 10:00 in Los Angeles (30 days before the renewal there) is already the 2nd in Tokyo.
    t.clock.set(new Date('2027-01-01T18:00:00Z'));
    expect((await triggers.scanDates(registry.active())).get('contact-date-test')).toBe(1);
    const entered: { external_id: string }[] = await t.db.dataSource.query(
      `SELECT c.external_id FROM enrollments e JOIN contacts c ON c.id = e.contact_id WHERE e.scenario_id = 'contact-date-test'`,
    );
    expect(entered).toEqual([{ external_id: 'zone-la' }]);
    const triggerHolds = async (subject: string) => {
      const body = (await t.api('GET', `/api/scenarios/contact-date-test/explain?subject=${subject}`)).json() as {
        checks: { part: string; holds: boolean }[];
      };
      return body.checks.filter((c) => c.part === 'trigger').map((c) => c.holds);
    };
    expect(await triggerHolds('zone-la')).toEqual([true]);
    expect(await triggerHolds('zone-tokyo')).toEqual([false]);
  });

  it('a segment trigger enrolls subjects entering the segment, not those already in it at activation', async () => {
    write(
      'segment-entry-test',
      `subject: account
trigger:
  segment: { entered: at-risk, check: daily at 09:00 }
entry: { again_after: 30d, per: account }
steps:
  - { id: notice, send: low-usage/help-offer, to: { role: admin } }`,
    );
    await registry.reload();
    t.clock.set(new Date('2026-12-10T01:00:00Z'));
    await setup('seg-active', 5, [{ id: 'seg-active-admin', roles: ['admin'] }]);
    await setup('seg-idle', 0, [{ id: 'seg-idle-admin', roles: ['admin'] }]);
    const scan = async () => (await triggers.scanSegments(registry.active())).get('segment-entry-test');
    const enrolled = async () =>
      (
        await t.db.dataSource.query<{ external_id: string }[]>(
          `SELECT a.external_id FROM enrollments e JOIN accounts a ON a.id = e.account_id
            WHERE e.scenario_id = 'segment-entry-test' ORDER BY 1`,
        )
      ).map((r) => r.external_id);
    // First check: a baseline; the idle account was already at risk and does not enroll.
    expect(await scan()).toBe(0);
    expect(await scan()).toBeUndefined(); // same scheduled time: not run again
    // 15 days later the active account's logins have left the 14-day window: it enters the segment.
    // (Accounts of earlier tests in this database whose logins also aged out enter too.)
    t.clock.advance(15 * DAY);
    const entered = await scan();
    const afterEntry = await enrolled();
    expect(afterEntry).toContain('seg-active');
    expect(afterEntry).not.toContain('seg-idle');
    expect(entered).toBe(afterEntry.length);
    // Still in the segment the next day: no new entry.
    t.clock.advance(DAY);
    expect(await scan()).toBe(0);
    expect(await enrolled()).toEqual(afterEntry);
  });

  it('a goal met while an enrollment waits converts it at the next goal scan, not at the end of the wait', async () => {
    write(
      'goal-test',
      `trigger: { event: { type: login } }
goal: { when: contact.logins_7d >= 2, within: 30d }
steps:
  - { id: pause, wait: 7d }
  - { id: hello, send: onboarding/welcome }`,
    );
    await registry.reload();
    await setup('goal-acct', 0, [{ id: 'goal-contact', roles: ['admin'] }]);
    const rows: { id: string; account_id: string }[] = await t.db.dataSource.query(
      `SELECT id, account_id FROM contacts WHERE external_id = 'goal-contact'`,
    );
    const c = rows[0]!;
    const loaded = registry.all().find((s) => s.compiled.id === 'goal-test')!;
    await t.app
      .get(EnrollmentsRepository)
      .enroll(
        'goal-test',
        loaded.compiled.versionHash,
        'contact',
        [{ accountId: c.account_id, contactId: c.id, entryKey: `contact:${c.id}`, occurrenceKey: '', reason: {} }],
        t.clock.now(),
        null,
      );
    const executor = t.app.get(ScenarioExecutor);
    const only = ['goal-test'];
    await executor.drain(undefined, only); // waiting 7 days
    const logins = Array.from({ length: 2 }, (_, i) => ({
      id: `goal-login-${i}`,
      type: 'login',
      occurredAt: t.clock.now().toISOString(),
      accountExternalId: 'goal-acct',
      contactExternalId: 'goal-contact',
    }));
    expect((await t.api('POST', '/api/events', { events: logins })).status).toBe(200);
    await t.app.get(UsageRollups).fold();
    t.clock.advance(60_000);
    expect((await triggers.scanGoals(registry.active())).get('goal-test')).toBe(1);
    await executor.drain(undefined, only);
    const state: { state: string; exit_reason: string; converted_at: Date | null }[] = await t.db.dataSource.query(
      `SELECT state, exit_reason, converted_at FROM enrollments WHERE scenario_id = 'goal-test'`,
    );
    expect(state).toEqual([{ state: 'converted', exit_reason: 'goal', converted_at: t.clock.now() }]);
    const sent: unknown[] = await t.db.dataSource.query(`SELECT 1 FROM messages WHERE contact_id = $1`, [c.id]);
    expect(sent).toEqual([]);
  });

  it('builds the audience as one condition and finds the last scheduled time in the scenario zone', () => {
    expect(
      audienceCondition({
        subject: 'contact',
        audience: {
          tier: ['tech-touch'],
          lifecycle: ['onboarding'],
          roles: ['admin', 'operator'],
          segments: ['at-risk'],
          when: 'account.arr > 0',
        },
      } as never),
    ).toBe(
      "account.status == 'active' and contact.status == 'active' and account.tier in ['tech-touch'] and account.lifecycle in ['onboarding'] and ('admin' in contact.roles or 'operator' in contact.roles) and segment('at-risk') and (account.arr > 0)",
    );
    const now = new Date('2026-12-03T01:00:00Z'); // Thu 10:00 Tokyo
    expect(lastScheduledTime('daily at 09:00', now, 'Asia/Tokyo').toISOString()).toBe('2026-12-03T00:00:00.000Z');
    expect(lastScheduledTime('daily at 11:00', now, 'Asia/Tokyo').toISOString()).toBe('2026-12-02T02:00:00.000Z');
    expect(lastScheduledTime('weekdays at 09:00', new Date('2026-12-06T01:00:00Z'), 'Asia/Tokyo').toISOString()).toBe(
      '2026-12-04T00:00:00.000Z',
    );
    expect(lastScheduledTime('every 15m', new Date('2026-12-03T01:07:00Z'), 'UTC').toISOString()).toBe(
      '2026-12-03T01:00:00.000Z',
    );
  });
});
