import { UsageRollups } from '../../src/metrics/usage-rollups.service';
import { SchedulerRegistry } from '@nestjs/schedule';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnrollmentsRepository } from '../../src/scenarios/runtime/enrollments.repository';
import { ScenarioExecutor } from '../../src/scenarios/runtime/scenario-executor';
import { ScenarioRegistry } from '../../src/scenarios/runtime/scenario-registry.service';
import { ScenarioTriggers } from '../../src/scenarios/runtime/scenario-triggers.service';
import { createTestApp, type TestApp } from './test-app';

const root = join(__dirname, '..', '..');

/** What one tick did, by scenario id (an id is absent when its check did not run). */
export interface TickReport {
  conditions: Map<string, number>;
  dates: Map<string, number>;
  segments: Map<string, number>;
  goals: Map<string, number>;
  events: Map<string, number>;
}

export interface EnrollmentRow {
  id: string;
  subject: string;
  state: string;
  exit_reason: string | null;
  occurrence_key: string;
  variant: string | null;
  entered_at: Date;
  ended_at: Date | null;
  converted_at: Date | null;
}

/**
 * The scenario runtime on a test database with a virtual clock and its own scenarios folder:
 * nothing runs in the background (the worker's real-time intervals are stopped), time moves
 * only when a test moves it, and `tick` does what one worker tick with a condition scan does.
 */
export interface ScenarioHarness {
  t: TestApp;
  registry: ScenarioRegistry;
  triggers: ScenarioTriggers;
  executor: ScenarioExecutor;
  repo: EnrollmentsRepository;
  /** Writes `scenarios/<id>.yaml` (id, name, status: active, then `body`) and reloads; fails on any problem. */
  scenario(id: string, body: string): Promise<void>;
  /** Sets the virtual clock. */
  at(iso: string): void;
  /**
   * One worker tick at the clock's time, for these scenarios only (other tests' scenarios
   * stay loaded): event, condition, date and segment triggers, goals, then due steps.
   */
  tick(scenarioIds: readonly string[]): Promise<TickReport>;
  account(externalId: string, fields?: Record<string, unknown>): Promise<string>;
  contact(
    accountExternalId: string,
    externalId: string,
    fields?: Record<string, unknown>,
  ): Promise<{ accountId: string; contactId: string }>;
  /** Product events of a contact (or of an account when contactExternalId is null), at the clock's time. */
  events(type: string, accountExternalId: string, contactExternalId: string | null, n?: number): Promise<void>;
  /** Messages queued for a contact (templates, oldest first). */
  sent(contactExternalId: string): Promise<string[]>;
  /** A scenario's enrollments, by subject external id (contact for contact subjects, account otherwise). */
  enrollments(scenarioId: string): Promise<EnrollmentRow[]>;
  close(): Promise<void>;
}

export async function createScenarioHarness(overrides: NodeJS.ProcessEnv = {}): Promise<ScenarioHarness> {
  const t = await createTestApp(overrides);
  // The worker's @Interval ticks run on real time and would scan at whatever the virtual clock
  // says in between a test's steps: the tests tick by hand instead.
  const schedules = t.app.get(SchedulerRegistry);
  for (const name of ['scenario-runtime', 'mail-send', 'handoff-notifications']) {
    if (schedules.getIntervals().includes(name)) schedules.deleteInterval(name);
  }
  const dir = t.config.scenariosDir;
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, 'scenarios/_catalog.yaml'), join(dir, '_catalog.yaml'));
  const registry = t.app.get(ScenarioRegistry);
  const triggers = t.app.get(ScenarioTriggers);
  const executor = t.app.get(ScenarioExecutor);
  const repo = t.app.get(EnrollmentsRepository);
  let eventSeq = 0;

  const harness: ScenarioHarness = {
    t,
    registry,
    triggers,
    executor,
    repo,
    async scenario(id, body) {
      writeFileSync(join(dir, `${id}.yaml`), `id: ${id}\nname: ${id}\nstatus: active\n${body}`);
      const report = await registry.reload();
      if (report.problems.length > 0) throw new Error(report.problems.join('\n'));
    },
    at(iso) {
      t.clock.set(new Date(iso));
    },
    async tick(scenarioIds) {
      const active = registry.active().filter((s) => scenarioIds.includes(s.compiled.id));
      // As the worker's tick: usage ingested so far is folded into the rollups first.
      await t.app.get(UsageRollups).fold();
      const events = await triggers.scanEvents(active);
      const conditions = await triggers.scanConditions(active);
      const dates = await triggers.scanDates(active);
      const segments = await triggers.scanSegments(active);
      const goals = await triggers.scanGoals(active);
      const figures = await executor.drain(undefined, [...scenarioIds]);
      if (figures.failed > 0) throw new Error(`${figures.failed} steps failed`);
      return { events, conditions, dates, segments, goals };
    },
    async account(externalId, fields = {}) {
      const r = await t.api('POST', '/api/accounts', {
        externalId,
        name: externalId,
        timeZone: 'Asia/Tokyo',
        ...fields,
      });
      if (r.status !== 201) throw new Error(`account ${externalId}: ${r.body}`);
      const rows: { id: string }[] = await t.db.dataSource.query(`SELECT id FROM accounts WHERE external_id = $1`, [
        externalId,
      ]);
      return rows[0]!.id;
    },
    async contact(accountExternalId, externalId, fields = {}) {
      const r = await t.api('POST', '/api/contacts', {
        externalId,
        accountExternalId,
        email: `${externalId}@example.com`,
        roles: ['admin'],
        consent: { basis: 'existing_relationship' },
        ...fields,
      });
      if (r.status !== 201) throw new Error(`contact ${externalId}: ${r.body}`);
      const rows: { id: string; account_id: string }[] = await t.db.dataSource.query(
        `SELECT id, account_id FROM contacts WHERE external_id = $1`,
        [externalId],
      );
      return { accountId: rows[0]!.account_id, contactId: rows[0]!.id };
    },
    async events(type, accountExternalId, contactExternalId, n = 1) {
      const events = Array.from({ length: n }, () => ({
        id: `harness-${type}-${++eventSeq}`,
        type,
        occurredAt: t.clock.now().toISOString(),
        accountExternalId,
        ...(contactExternalId === null ? {} : { contactExternalId }),
      }));
      const r = await t.api('POST', '/api/events', { events });
      if (r.status !== 200) throw new Error(`events: ${r.body}`);
    },
    async sent(contactExternalId) {
      const rows: { template: string }[] = await t.db.dataSource.query(
        `SELECT m.template FROM messages m JOIN contacts c ON c.id = m.contact_id
          WHERE c.external_id = $1 ORDER BY m.created_at, m.template`,
        [contactExternalId],
      );
      return rows.map((r) => r.template);
    },
    enrollments(scenarioId) {
      return t.db.dataSource.query(
        `SELECT e.id, COALESCE(c.external_id, a.external_id) AS subject, e.state, e.exit_reason, e.occurrence_key,
                e.variant, e.entered_at, e.ended_at, e.converted_at
           FROM enrollments e JOIN accounts a ON a.id = e.account_id LEFT JOIN contacts c ON c.id = e.contact_id
          WHERE e.scenario_id = $1
          ORDER BY e.entered_at, subject, e.occurrence_key`,
        [scenarioId],
      );
    },
    close: () => t.close(),
  };
  return harness;
}
