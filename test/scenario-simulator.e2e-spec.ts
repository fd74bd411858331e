import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openDatabase } from '../src/database/data-source.factory';
import { compileScenario } from '../src/scenarios/core/runtime/compiled-scenario';
import { validateScenarios } from '../src/scenarios/core/scenario.validator';
import { validationEnvironment } from '../src/scenarios/scenario-files';
import { EnrollmentsRepository } from '../src/scenarios/runtime/enrollments.repository';
import { ScenarioExecutor } from '../src/scenarios/runtime/scenario-executor';
import type { LoadedScenario } from '../src/scenarios/runtime/scenario-registry.service';
import { ScenarioTriggers } from '../src/scenarios/runtime/scenario-triggers.service';
import {
  ScenarioSimulator,
  scheduledTimes,
  type SimulationReport,
  summarize,
} from '../src/scenarios/simulator/scenario-simulator';
import { createTestApp, type TestApp } from './support/test-app';
import { TEST_SENDER, testEngine } from './support/test-database';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const root = join(__dirname, '..');
const FROM = new Date('2026-11-02T00:00:00Z'); // Monday 09:00 in Tokyo
const TO = new Date(FROM.getTime() + 20 * DAY);

const SCENARIO = `id: sim-low-usage
name: Low usage, replayed
status: active
audience: { roles: [admin] }
trigger:
  condition: { when: account.logins_14d < 3, check: daily at 09:00 }
entry: { again_after: 10d, per: contact }
goal: { when: account.logins_7d >= 5, within: 14d }
steps:
  - id: ab
    split:
      holdout: 20
      variants:
        - { name: a, weight: 50, steps: [{ id: nudge-a, send: low-usage/nudge }] }
        - { name: b, weight: 50, steps: [{ id: nudge-b, send: low-usage/help-offer }] }
  - { id: pause, wait: 3d }
  - id: still-low
    if: account.logins_7d < 2
    then:
      - { id: tell-admins, send: low-usage/help-offer, to: { role: [admin, operator] } }
      - { id: pause-2, wait: 4d }
      - id: escalate
        handoff: { to: owner, reason: usage_collapsed, priority: high }
`;

describe(`scenario simulator (${testEngine()})`, () => {
  let t: TestApp;
  let loaded: LoadedScenario;

  beforeAll(async () => {
    t = await createTestApp();
    t.clock.set(FROM);
    const catalogFile = {
      file: 'scenarios/_catalog.yaml',
      text: readFileSync(join(root, 'scenarios/_catalog.yaml'), 'utf8'),
    };
    const result = validateScenarios(
      [{ file: 'sim-low-usage.yaml', text: SCENARIO }],
      catalogFile,
      validationEnvironment(join(root, 'templates')),
    );
    expect(result.issues).toEqual([]);
    const s = result.scenarios[0]!;
    loaded = {
      compiled: compileScenario(s.definition, s.versionHash, result.catalog),
      catalog: result.catalog,
      file: s.file,
    };
    await seedHistory();
  });
  afterAll(() => t.close());

  /**
   * 24 accounts, each with an admin (and an operator for every fourth): a third always
   * busy, a third waking up on day 6 (their goal is met), a third staying quiet.
   */
  async function seedHistory(): Promise<void> {
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      const external = `sim-${i}`;
      expect(
        (await t.api('POST', '/api/accounts', { externalId: external, name: external, timeZone: 'Asia/Tokyo' })).status,
      ).toBe(201);
      const contacts = i % 4 === 0 ? ['admin', 'operator'] : ['admin'];
      for (const role of contacts) {
        const created = await t.api('POST', '/api/contacts', {
          externalId: `${external}-${role}`,
          accountExternalId: external,
          email: `${external}-${role}@example.com`,
          roles: [role],
          consent: { basis: 'existing_relationship' },
        });
        expect(created.status).toBe(201);
      }
      const firstActiveDay = i % 3 === 0 ? -20 : i % 3 === 1 ? 6 : Infinity;
      for (let day = -20; day < 22; day++) {
        if (day < firstActiveDay) continue;
        for (let n = 0; n < 3; n++) {
          events.push({
            id: `${external}-login-${day}-${n}`,
            type: 'login',
            occurredAt: new Date(FROM.getTime() + day * DAY + (n + 2) * HOUR).toISOString(),
            accountExternalId: external,
            contactExternalId: `${external}-admin`,
          });
        }
      }
    }
    // The history is stored as it stands after the period (ingest refuses events from the future).
    t.clock.set(new Date(TO.getTime() + 2 * DAY));
    for (let i = 0; i < events.length; i += 1000) {
      const response = await t.api('POST', '/api/events', { events: events.slice(i, i + 1000) });
      if (response.status !== 200) throw new Error(response.body.slice(0, 400));
    }
    t.clock.set(FROM);
  }

  async function simulate(account?: string): Promise<SimulationReport> {
    if (testEngine() === 'embedded') {
      // One embedded session: the replay's sandbox shares it and is dropped afterwards.
      return new ScenarioSimulator(t.db.dataSource, t.config).run({ scenario: loaded, from: FROM, to: TO, account });
    }
    const own = await openDatabase({ kind: 'postgres', url: t.db.url!, poolSize: 1 });
    try {
      return await new ScenarioSimulator(own.dataSource, t.config).run({
        scenario: loaded,
        from: FROM,
        to: TO,
        account,
      });
    } finally {
      await own.close();
    }
  }

  it('lists the scheduled instants of a check in the zone', () => {
    const times = scheduledTimes('weekdays at 09:00', FROM, new Date(FROM.getTime() + 7 * DAY), 'Asia/Tokyo');
    expect(times.map((x) => new Date(x).toISOString())).toEqual([
      '2026-11-02T00:00:00.000Z',
      '2026-11-03T00:00:00.000Z',
      '2026-11-04T00:00:00.000Z',
      '2026-11-05T00:00:00.000Z',
      '2026-11-06T00:00:00.000Z',
      '2026-11-09T00:00:00.000Z',
    ]);
    expect(
      scheduledTimes('every 6h', new Date(FROM.getTime() + 1), new Date(FROM.getTime() + DAY), 'UTC'),
    ).toHaveLength(4);
  });

  it('replays history without writing anything live, and equals a live run over the same history', async () => {
    const counts = async () =>
      (
        await t.db.dataSource.query<{ n: number }[]>(
          `SELECT (SELECT count(*) FROM enrollments) + (SELECT count(*) FROM enrollment_effects)
                + (SELECT count(*) FROM messages) + (SELECT count(*) FROM handoffs)
                + (SELECT count(*) FROM scenario_checks) + (SELECT count(*) FROM scenario_versions) AS n`,
        )
      )[0]!.n;
    const before = Number(await counts());
    const simulated = await simulate();
    expect(Number(await counts())).toBe(before);
    expect(simulated.failedRuns).toBe(0);

    // The simulated story makes sense: the quiet and waking accounts entered, the busy ones never.
    expect(simulated.subjects).toBe(16);
    expect(simulated.variants.map((v) => v.variant).sort()).toEqual(expect.arrayContaining(['a', 'b']));
    expect(simulated.goalsReached).toBeGreaterThan(0);
    expect(simulated.handoffs).toEqual([
      { reason: 'usage_collapsed', kind: 'risk', priority: 'high', count: expect.any(Number) as unknown },
    ]);
    const holdout = simulated.variants.filter((v) => v.variant === 'holdout').reduce((n, v) => n + v.subjects, 0);
    const mailed = simulated.steps
      .filter((s) => s.id === 'nudge-a' || s.id === 'nudge-b')
      .reduce((n, s) => n + s.runs, 0);
    expect(mailed + holdout).toBe(simulated.entered);

    // The live runtime over the same period, ticking every hour like a worker would.
    await t.app
      .get(EnrollmentsRepository)
      .saveVersion(loaded.compiled.definition, loaded.compiled.versionHash, loaded.catalog, loaded.file, FROM);
    const triggers = t.app.get(ScenarioTriggers);
    const executor = t.app.get(ScenarioExecutor);
    for (let now = FROM.getTime(); now <= TO.getTime(); now += HOUR) {
      t.clock.set(new Date(now));
      await triggers.scanConditions([loaded]);
      await triggers.scanGoals([loaded]);
      await executor.drain(undefined, [loaded.compiled.id]);
    }
    const live = await summarize(t.db.dataSource, loaded, FROM, TO);
    const { instants: _i, failedRuns: _f, ...replayed } = simulated;
    expect(replayed).toEqual(live);
  });

  it("shows one account's path with the reason for each decision", async () => {
    const report = await simulate('sim-1');
    const path = report.path!.map((p) => `${p.at} ${p.subject}: ${p.text}`);
    expect(path[0]).toBe(
      '2026-11-02T00:00:00.000Z contact sim-1-admin: entered: the trigger condition held at its scheduled check',
    );
    expect(path).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/contact sim-1-admin: ab: variant (a|b|holdout)$/),
        expect.stringMatching(/contact sim-1-admin: (goal met|journey ends: goal reached)$/),
      ]),
    );
  });

  it('the command prints the report, and JSON for scripts; bad input is reported clearly', async () => {
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      promisify(execFile)(process.execPath, [join(root, 'dist/scripts/simulate.js'), ...args], {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATA_DIR: join(t.tmpDir, 'cli-data'),
          ADMIN_API_KEY: 'test-key-for-the-simulator-cli',
          TRACKING_SECRET: 'k1:0123456789abcdef0123456789abcdef',
          ...env,
        },
      }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    const file = join(t.tmpDir, 'sim-low-usage.yaml');
    writeFileSync(file, SCENARIO);
    copyFileSync(join(root, 'scenarios/_catalog.yaml'), join(t.tmpDir, '_catalog.yaml'));

    const bad = await run(['test/fixtures/scenarios/broken/unknown-fact.yaml', '--from', '2026-11-01']);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringMatching(/unknown-fact\.yaml:\d+:\d+: /) as unknown });
    expect(await run([file])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--from is required') as unknown,
    });
    expect(await run([file, '--from', '2026-11-10', '--to', '2026-11-01'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--to must be after --from') as unknown,
    });

    if (testEngine() === 'embedded') {
      // An embedded data folder that was never migrated: the replay refuses to guess.
      expect(await run([file, '--from', '2026-11-01'])).toMatchObject({
        code: 1,
        stderr: expect.stringContaining('run `npm run migrate` first') as unknown,
      });
      return;
    }
    const env = {
      DATABASE_URL: t.db.url!,
      PUBLIC_BASE_URL: 'https://tend.example.com',
      MAIL_FROM: 'Tend <tend@example.com>',
      ...TEST_SENDER,
    };
    const args = [file, '--from', FROM.toISOString(), '--to', TO.toISOString()];
    const json = await run([...args, '--json', '--account', 'sim-1'], env);
    expect(json).toMatchObject({ stderr: '' });
    const fromCli = JSON.parse((json as { stdout: string }).stdout) as SimulationReport;
    const inProcess = await simulate('sim-1');
    expect({ ...fromCli, scenario: { ...fromCli.scenario, file: '' } }).toEqual({
      ...inProcess,
      scenario: { ...inProcess.scenario, file: '' },
    });
    const text = (await run(args, env)) as { stdout: string };
    expect(text.stdout).toContain('Nothing was written and no mail was sent');
    expect(text.stdout).toMatch(/Entered: \d+ enrollment\(s\) of 16 subject\(s\)/);
    expect(text.stdout).toMatch(/low-usage\/nudge\s+\d+/);
    expect(text.stdout).toMatch(/usage_collapsed\s+risk\s+high\s+\d+/);
  });
});
