import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnrollmentsRepository } from '../src/scenarios/runtime/enrollments.repository';
import { ScenarioExecutor } from '../src/scenarios/runtime/scenario-executor';
import { ScenarioRegistry } from '../src/scenarios/runtime/scenario-registry.service';
import { createTestApp, type TestApp } from './support/test-app';
import { testEngine } from './support/test-database';

const DAY = 86_400_000;
const root = join(__dirname, '..');

/** A YAML edit mid-journey: enrollments stay on the version they entered with, or move by step id. */
describe(`scenario versions: editing a live journey (${testEngine()})`, () => {
  let t: TestApp;
  let dir: string;
  let registry: ScenarioRegistry;
  let repo: EnrollmentsRepository;
  let executor: ScenarioExecutor;

  beforeAll(async () => {
    t = await createTestApp();
    t.clock.set(new Date('2026-12-03T01:00:00Z'));
    dir = t.config.scenariosDir;
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(root, 'scenarios/_catalog.yaml'), join(dir, '_catalog.yaml'));
    registry = t.app.get(ScenarioRegistry);
    repo = t.app.get(EnrollmentsRepository);
    executor = t.app.get(ScenarioExecutor);
  });
  afterAll(() => t.close());

  const write = (id: string, migrate: boolean, steps: string) =>
    writeFileSync(
      join(dir, `${id}.yaml`),
      `id: ${id}\nname: ${id}\nstatus: active\nmigrate_in_flight: ${migrate}\ntrigger: { event: { type: login } }\nsteps:\n${steps}`,
    );

  const V1 = `
  - { id: welcome, send: onboarding/welcome }
  - { id: pause, wait: 2d }
  - { id: tips, send: onboarding/first-steps }
`;
  // The second version adds a step before the wait and replaces the step after it.
  const V2 = `
  - { id: welcome, send: onboarding/welcome }
  - { id: intro, send: onboarding/first-steps }
  - { id: pause, wait: 2d }
  - { id: story, send: onboarding/case-study }
`;

  async function enrollOne(scenarioId: string, externalId: string): Promise<string> {
    expect((await t.api('POST', '/api/accounts', { externalId, name: externalId })).status).toBe(201);
    const created = await t.api('POST', '/api/contacts', {
      externalId,
      accountExternalId: externalId,
      email: `${externalId}@example.com`,
      roles: ['admin'],
      consent: { basis: 'existing_relationship' },
    });
    expect(created.status).toBe(201);
    const [c] = await t.db.dataSource.query<{ id: string; account_id: string }[]>(
      `SELECT id, account_id FROM contacts WHERE external_id = $1`,
      [externalId],
    );
    const loaded = registry.all().find((s) => s.compiled.id === scenarioId)!;
    const ids = await repo.enroll(
      scenarioId,
      loaded.compiled.versionHash,
      'contact',
      [
        {
          accountId: c!.account_id,
          contactId: c!.id,
          entryKey: `contact:${c!.id}`,
          occurrenceKey: '',
          reason: { test: true },
        },
      ],
      t.clock.now(),
      null,
    );
    expect(ids).toHaveLength(1);
    return c!.id;
  }

  const templatesOf = async (contactId: string) =>
    (
      await t.db.dataSource.query<{ template: string }[]>(
        `SELECT template FROM messages WHERE contact_id = $1 ORDER BY created_at, template`,
        [contactId],
      )
    ).map((r) => r.template);

  const enrollmentOf = async (contactId: string) =>
    (
      await t.db.dataSource.query<{ version_hash: string; state: string }[]>(
        `SELECT version_hash, state FROM enrollments WHERE contact_id = $1`,
        [contactId],
      )
    )[0]!;

  it('a pinned journey finishes on the version it entered with; a migrated one moves by step id', async () => {
    write('pinned-journey', false, V1);
    write('moving-journey', true, V1);
    expect((await registry.reload()).problems).toEqual([]);
    const v1 = Object.fromEntries(registry.all().map((s) => [s.compiled.id, s.compiled.versionHash]));
    const pinned = await enrollOne('pinned-journey', 'ver-pinned');
    const moving = await enrollOne('moving-journey', 'ver-moving');
    await executor.drain();
    expect(await templatesOf(pinned)).toEqual(['onboarding/welcome']);
    expect(await templatesOf(moving)).toEqual(['onboarding/welcome']);

    // Mid-journey (both wait at `pause`), the marketer edits both files.
    t.clock.advance(DAY);
    write('pinned-journey', false, V2);
    write('moving-journey', true, V2);
    const report = await registry.reload();
    expect(report.problems).toEqual([]);
    const v2 = Object.fromEntries(report.loaded.map((s) => [s.id, s.version]));
    expect(v2['moving-journey']).not.toBe(v1['moving-journey']);

    expect(await enrollmentOf(pinned)).toEqual({ version_hash: v1['pinned-journey'], state: 'active' });
    expect(await enrollmentOf(moving)).toEqual({ version_hash: v2['moving-journey'], state: 'active' });
    // The wait keeps its end: nothing is due one day in.
    expect((await executor.drain()).claimed).toBe(0);

    t.clock.advance(DAY);
    await executor.drain();
    // Pinned: the old version's next step. Moved: the new version's next step after `pause`;
    // the step added before the wait is not run (the enrollment was already past it) and the
    // welcome mail is not sent again.
    expect(await templatesOf(pinned)).toEqual(['onboarding/welcome', 'onboarding/first-steps']);
    expect(await templatesOf(moving)).toEqual(['onboarding/welcome', 'onboarding/case-study']);
    expect((await enrollmentOf(moving)).state).toBe('completed');

    // New entries use the new version in both cases.
    const late = await enrollOne('pinned-journey', 'ver-late');
    expect((await enrollmentOf(late)).version_hash).toBe(v2['pinned-journey']);
  });

  it('an enrollment whose step was removed stays on its version and finishes there', async () => {
    write('shrinking-journey', true, V1);
    await registry.reload();
    const first = registry.all().find((s) => s.compiled.id === 'shrinking-journey')!.compiled.versionHash;
    const contact = await enrollOne('shrinking-journey', 'ver-shrink');
    await executor.drain();
    write(
      'shrinking-journey',
      true,
      `  - { id: welcome, send: onboarding/welcome }\n  - { id: story, send: onboarding/case-study }\n`,
    );
    await registry.reload();
    expect(await enrollmentOf(contact)).toEqual({ version_hash: first, state: 'active' });
    t.clock.advance(2 * DAY);
    await executor.drain();
    expect(await templatesOf(contact)).toEqual(['onboarding/welcome', 'onboarding/first-steps']);
  });

  it('an enrollment a worker holds is moved at a later pass, not under the worker', async () => {
    write('held-journey', true, V1);
    await registry.reload();
    const contact = await enrollOne('held-journey', 'ver-held');
    await executor.drain();
    const first = (await enrollmentOf(contact)).version_hash;
    // A worker holds the enrollment (its lease runs) while the new version loads.
    await t.db.dataSource.query(
      `UPDATE enrollments SET lease_owner = 'other-worker', lease_until = $2 WHERE contact_id = $1`,
      [contact, new Date(t.clock.now().getTime() + 60_000).toISOString()],
    );
    write('held-journey', true, V2);
    await registry.reload();
    expect((await enrollmentOf(contact)).version_hash).toBe(first);
    // The lease ends; the next pass moves it.
    t.clock.advance(120_000);
    await registry.migratePending();
    expect((await enrollmentOf(contact)).version_hash).not.toBe(first);
  });
});
