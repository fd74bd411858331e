/**
 * The simulator: what would this scenario have done over a past period? It replays stored
 * history (accounts, contacts, events, usage rollups) through the live runtime's own
 * trigger scans, executor and pure planner, with a virtual clock, inside a sandboxed
 * database session (shadow-tables.ts): enrollments and effects live in temporary twins,
 * and the session is read-only for everything else, so nothing live is written and no
 * mail is sent.
 *
 * Time moves from instant to instant: every scheduled check of the trigger (condition,
 * segment: their schedule; date offsets: the local `at` time in every time zone in use;
 * events: the minute after each matching event), an hourly goal scan, and every
 * enrollment's next run. What the replay cannot know is listed in docs/scenarios.md
 * (attributes and tags as they are now, no opens or clicks of simulated mail, no caps).
 */
import { DateTime } from 'luxon';
import type { DataSource } from 'typeorm';
import { ManualClock } from '../../common/clock';
import type { AppConfig } from '../../config/app-config';
import { EventsRepository } from '../../events/events.repository';
import { HandoffsService } from '../../handoffs/handoffs.service';
import { MessageQueue } from '../../messaging/send/message-queue.service';
import { SendRepository } from '../../messaging/send/send.repository';
import { FactSnapshotRepository } from '../../metrics/fact-snapshot.repository';
import { UsageRollups } from '../../metrics/usage-rollups.service';
import type { AdvanceResult } from '../core/runtime/planner';
import type { CompiledScenario } from '../core/runtime/compiled-scenario';
import type { CatalogDefinition } from '../core/scenario.schema';
import { type ClaimedEnrollment, EnrollmentsRepository, propsMatchSql } from '../runtime/enrollments.repository';
import { ScenarioExecutor } from '../runtime/scenario-executor';
import type { LoadedScenario } from '../runtime/scenario-registry.service';
import { lastScheduledTime, ScenarioTriggers } from '../runtime/scenario-triggers.service';
import { enterSandbox } from './shadow-tables';

export interface SimulationInput {
  scenario: { compiled: CompiledScenario; catalog: CatalogDefinition; file: string };
  from: Date;
  to: Date;
  /** An account's external id: its path, decision by decision. */
  account?: string | undefined;
}

export interface PathEntry {
  at: string;
  /** `contact <external id>` or `account <external id>`. */
  subject: string;
  text: string;
}

export interface SimulationReport {
  scenario: { id: string; version: string; file: string };
  from: string;
  to: string;
  /** Enrollments made (a subject may enter more than once with `again_after`). */
  entered: number;
  subjects: number;
  outcomes: { active: number; completed: number; converted: number; exited: Record<string, number> };
  /** Times each step ran, in document order. */
  steps: { id: string; kind: string; runs: number }[];
  /** Subjects per variant of each split (holdout included) and how many reached the goal within its window. */
  variants: { split: string; variant: string; subjects: number; converted: number }[];
  /** Mail the journey would have queued, per template (before caps, quiet hours and suppression). */
  messages: { template: string; count: number }[];
  handoffs: { reason: string; kind: string; priority: string; count: number }[];
  /** Enrollments that reached the goal within its window (ended by it, or after their journey completed). */
  goalsReached: number;
  /** With `account`: that account's path with the reason for each decision. */
  path?: PathEntry[];
  /** Virtual instants replayed (a measure of the work done). */
  instants: number;
  /** Runs that failed (logged; retried after their lease, as live). */
  failedRuns: number;
}

const HOUR = 3_600_000;

export class ScenarioSimulator {
  constructor(
    /** A data source with exactly one connection: the sandbox is one session. */
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async run(input: SimulationInput): Promise<SimulationReport> {
    const { compiled, catalog, file } = input.scenario;
    const definition = compiled.definition;
    // History up to now in the rollups (folding moves counts, it changes no total); the sandbox then reads them.
    await new UsageRollups(this.dataSource).fold();
    const sandbox = await enterSandbox(this.dataSource);
    try {
      const clock = new ManualClock(input.from);
      const repository = new ReplayEnrollments(this.dataSource, clock);
      const triggers = new ScenarioTriggers(repository, clock, this.config);
      // The executor records effects and never performs them in a replay: the queue and the
      // handoffs service stay unused.
      const events = new EventsRepository(this.dataSource);
      const messages = new MessageQueue(new SendRepository(this.dataSource, events), clock, this.config);
      const snapshots = new FactSnapshotRepository(this.dataSource);
      const handoffs = new HandoffsService(this.dataSource, events, snapshots, clock, this.config);
      const executor = new ScenarioExecutor(
        this.dataSource,
        repository,
        snapshots,
        messages,
        handoffs,
        clock,
        this.config,
      );
      const loaded: LoadedScenario = {
        compiled: { ...compiled, definition: { ...definition, status: 'active' } },
        catalog,
        file,
      };
      await repository.saveVersion(definition, compiled.versionHash, catalog, file, input.from);
      // Event history before the replay starts does not enroll (as when a scenario goes live).
      await repository.claimCheck(definition.id, 'event', input.from, input.from);

      const focus = input.account === undefined ? undefined : await this.accountId(input.account);
      const path: PathEntry[] = [];
      const names = new Map<string, string>();
      const observe = (enrollment: ClaimedEnrollment, result: AdvanceResult | undefined, now: Date) => {
        if (focus === undefined || enrollment.accountId !== focus) return;
        const subject = names.get(enrollment.contactId ?? enrollment.accountId) ?? enrollment.state.subjectKey;
        const lines = result?.trace ?? ['the subject no longer exists'];
        for (const text of lines) path.push({ at: now.toISOString(), subject, text });
        if (result && result.outcome.kind !== 'waiting') {
          path.push({ at: now.toISOString(), subject, text: `journey ends: ${describeOutcome(result.outcome)}` });
        }
      };
      const options = { leaseMs: 60_000, batchSize: 500, replay: { observe } };

      const instants = await this.instants(loaded, input.from, input.to);
      const waitsForEvents = compiled.graph.all.some((n) => n.kind === 'wait_for');
      let count = 0;
      let failed = 0;
      let i = 0;
      let now = input.from.getTime();
      const end = input.to.getTime();
      while (now <= end) {
        clock.set(new Date(now));
        count += 1;
        const kinds = new Set<string>();
        while (i < instants.length && instants[i]!.at <= now) kinds.add(instants[i++]!.kind);
        const before = focus === undefined ? 0 : await repository.enrollmentCount();
        if (kinds.has('event')) await triggers.scanEvents([loaded]);
        if (kinds.has('condition')) await triggers.scanConditions([loaded]);
        if (kinds.has('date')) await triggers.scanDates([loaded]);
        if (kinds.has('segment')) await triggers.scanSegments([loaded]);
        if (kinds.has('goal')) await triggers.scanGoals([loaded]);
        if (focus !== undefined && (await repository.enrollmentCount()) > before) {
          for (const entry of await repository.entriesOf(focus, new Date(now))) {
            names.set(entry.subjectId, entry.subject);
            path.push({ at: new Date(now).toISOString(), subject: entry.subject, text: `entered: ${entry.reason}` });
          }
        }
        failed += (await executor.drain(options, [definition.id])).failed;
        if (waitsForEvents) await repository.scheduleArrivals();
        const next = Math.min(instants[i]?.at ?? Infinity, (await repository.nextRun())?.getTime() ?? Infinity);
        if (next === Infinity) break;
        now = Math.max(next, now + 1);
      }
      const report = {
        ...(await summarize(this.dataSource, loaded, input.from, input.to)),
        instants: count,
        failedRuns: failed,
      };
      return focus === undefined ? report : { ...report, path };
    } finally {
      await sandbox.release();
    }
  }

  private async accountId(externalId: string): Promise<string> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM accounts WHERE external_id = $1`, [
      externalId,
    ]);
    if (!rows[0]) throw new SimulationInputError(`--account: no account with external id '${externalId}'`);
    return rows[0].id;
  }

  /** Every virtual instant at which a live worker would have scanned this scenario's trigger, in order. */
  private async instants(s: LoadedScenario, from: Date, to: Date): Promise<{ at: number; kind: string }[]> {
    const definition = s.compiled.definition;
    const trigger = definition.trigger;
    const zone = definition.time_zone ?? this.config.defaults.timeZone;
    const out: { at: number; kind: string }[] = [];
    const add = (kind: string, times: readonly number[]) => out.push(...times.map((at) => ({ at, kind })));
    if ('condition' in trigger) add('condition', scheduledTimes(trigger.condition.check, from, to, zone));
    if ('segment' in trigger) add('segment', scheduledTimes(trigger.segment.check, from, to, zone));
    if ('date' in trigger) {
      const zones: { zone: string }[] = await this.dataSource.query(
        `SELECT DISTINCT COALESCE(time_zone, $1) AS zone FROM accounts
         ${definition.subject === 'contact' ? 'UNION SELECT DISTINCT time_zone FROM contacts WHERE time_zone IS NOT NULL' : ''}`,
        [this.config.defaults.timeZone],
      );
      for (const z of zones) add('date', scheduledTimes(`daily at ${trigger.date.at}`, from, to, z.zone));
    }
    if ('event' in trigger) {
      const rows: { at: Date }[] = await this.dataSource.query(
        `SELECT DISTINCT date_trunc('minute', occurred_at) + interval '1 minute' AS at FROM events
          WHERE type = $1 AND occurred_at > $2 AND occurred_at <= $3 ORDER BY 1`,
        [trigger.event.type, from.toISOString(), to.toISOString()],
      );
      add(
        'event',
        rows.map((r) => Math.min(new Date(r.at).getTime(), to.getTime())),
      );
    }
    if (definition.goal) add('goal', scheduledTimes('every 1h', from, to, zone));
    return out.sort((a, b) => a.at - b.at);
  }
}

/**
 * What one scenario's enrollments did: the simulator's report, and the same figures over
 * live tables (a live run can be compared with a replay).
 */
export async function summarize(
  dataSource: DataSource,
  s: LoadedScenario,
  from: Date,
  to: Date,
): Promise<Omit<SimulationReport, 'instants' | 'failedRuns' | 'path'>> {
  const id = s.compiled.id;
  const q = <T>(sql: string): Promise<T[]> => dataSource.query(sql, [id]);
  const [totals] = await q<{
    entered: number;
    subjects: number;
    active: number;
    completed: number;
    converted: number;
    goalsReached: number;
  }>(
    `SELECT count(*)::int AS entered, count(DISTINCT COALESCE(contact_id, account_id))::int AS subjects,
            count(*) FILTER (WHERE state = 'active')::int AS active,
            count(*) FILTER (WHERE state = 'completed')::int AS completed,
            count(*) FILTER (WHERE state = 'converted')::int AS converted,
          count(*) FILTER (WHERE converted_at IS NOT NULL)::int AS "goalsReached"
       FROM enrollments WHERE scenario_id = $1`,
  );
  const exits = await q<{ reason: string; n: number }>(
    `SELECT exit_reason AS reason, count(*)::int AS n FROM enrollments WHERE scenario_id = $1 AND state = 'exited' GROUP BY 1 ORDER BY 1`,
  );
  const runs = await q<{ step: string; n: number }>(
    `SELECT v.key AS step, sum(v.value::int)::int AS n FROM enrollments e, jsonb_each_text(e.visits) v WHERE e.scenario_id = $1 GROUP BY 1`,
  );
  const runsByStep = new Map(runs.map((r) => [r.step, r.n]));
  const variants = await q<{ split: string; variant: string; subjects: number; converted: number }>(
    `SELECT a.key AS split, a.value AS variant, count(*)::int AS subjects,
            count(*) FILTER (WHERE e.converted_at IS NOT NULL)::int AS converted
       FROM enrollments e, jsonb_each_text(e.assignments) a WHERE e.scenario_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  // One message per send to the contact or the owner; a send to roles mails each active contact with a role
  // (live, each recipient's message also has an effect row of its own, without a template: not counted twice).
  const messages = await q<{ template: string; count: number }>(
    `SELECT f.payload->>'template' AS template,
            sum(CASE WHEN jsonb_typeof(f.payload->'to') = 'object'
                     THEN (SELECT count(*) FROM contacts c
                            WHERE c.account_id = e.account_id AND c.status = 'active'
                              AND c.roles && ARRAY(SELECT jsonb_array_elements_text(
                                    CASE WHEN jsonb_typeof(f.payload->'to'->'role') = 'array' THEN f.payload->'to'->'role'
                                         ELSE jsonb_build_array(f.payload->'to'->'role') END)))
                     ELSE 1 END)::int AS count
       FROM enrollment_effects f JOIN enrollments e ON e.id = f.enrollment_id
      WHERE e.scenario_id = $1 AND f.kind = 'send' AND f.payload ? 'template' GROUP BY 1 ORDER BY 1`,
  );
  const handoffs = await q<{ reason: string; kind: string; priority: string; count: number }>(
    `SELECT f.payload->>'reason' AS reason, f.payload->>'kind' AS kind, COALESCE(f.payload->>'priority', 'normal') AS priority,
            count(*)::int AS count
       FROM enrollment_effects f JOIN enrollments e ON e.id = f.enrollment_id
        WHERE e.scenario_id = $1 AND f.kind = 'handoff' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  return {
    scenario: { id: s.compiled.id, version: s.compiled.versionHash, file: s.file },
    from: from.toISOString(),
    to: to.toISOString(),
    entered: totals?.entered ?? 0,
    subjects: totals?.subjects ?? 0,
    outcomes: {
      active: totals?.active ?? 0,
      completed: totals?.completed ?? 0,
      converted: totals?.converted ?? 0,
      exited: Object.fromEntries(exits.map((r) => [r.reason, r.n])),
    },
    steps: s.compiled.graph.all.map((n) => ({ id: n.step.id, kind: n.kind, runs: runsByStep.get(n.step.id) ?? 0 })),
    variants,
    messages,
    handoffs,
    goalsReached: totals?.goalsReached ?? 0,
  };
}

export class SimulationInputError extends Error {}

function describeOutcome(outcome: Exclude<AdvanceResult['outcome'], { kind: 'waiting' }>): string {
  switch (outcome.kind) {
    case 'converted':
      return 'goal reached';
    case 'completed':
      return 'completed';
    case 'exited':
      return `exited (${outcome.reason})`;
  }
}

/** Every scheduled time of a check (`daily at HH:MM`, `weekdays at HH:MM`, `every <n>m|h`) in [from, to]. */
export function scheduledTimes(check: string, from: Date, to: Date, zone: string): number[] {
  const times: number[] = [];
  const every = /^every (\d+)(m|h)$/.exec(check);
  if (every) {
    const period = Number(every[1]) * (every[2] === 'h' ? HOUR : 60_000);
    for (let at = Math.ceil(from.getTime() / period) * period; at <= to.getTime(); at += period) times.push(at);
    return times;
  }
  // Day by day in the zone; lastScheduledTime decides which days and what time.
  let day = DateTime.fromJSDate(from, { zone }).startOf('day');
  const last = DateTime.fromJSDate(to, { zone }).endOf('day');
  while (day <= last) {
    const at = lastScheduledTime(check, day.endOf('day').toJSDate(), zone).getTime();
    if (at >= from.getTime() && at <= to.getTime() && (times.length === 0 || times[times.length - 1] !== at)) {
      times.push(at);
    }
    day = day.plus({ days: 1 });
  }
  return times;
}

/**
 * The repository on the sandbox's twins, with the one query a replay must bound in time:
 * the event-count trigger counts only events that had happened by the virtual `now`.
 */
class ReplayEnrollments extends EnrollmentsRepository {
  constructor(
    private readonly db: DataSource,
    private readonly clock: ManualClock,
  ) {
    super(db);
  }

  override async eventThresholdReached(
    trigger: { type: string; where?: Readonly<Record<string, unknown>> | undefined; count: number },
    per: 'contact' | 'account',
    since: Date,
  ): Promise<{ account_id: string; contact_id: string | null }[]> {
    const key = per === 'contact' ? 'contact_id' : 'account_id';
    const where = JSON.stringify(trigger.where ?? {});
    const rows: { account_id: string; contact_id: string | null }[] = await this.db.query(
      `WITH touched AS (
         SELECT DISTINCT e.${key} AS subject FROM events e
          WHERE e.type = $1 AND e.occurred_at >= $2 AND e.occurred_at <= $3 AND e.${key} IS NOT NULL
            AND ${propsMatchSql('e', '$4')})
       SELECT ${per === 'contact' ? 'c.account_id, c.id AS contact_id' : 'a.id AS account_id, NULL::uuid AS contact_id'}
         FROM touched t
         JOIN ${per === 'contact' ? 'contacts c ON c.id = t.subject' : 'accounts a ON a.id = t.subject'}
        WHERE (SELECT count(*) FROM events x
                WHERE x.${key} = t.subject AND x.type = $1 AND x.occurred_at <= $3 AND ${propsMatchSql('x', '$4')}) >= $5`,
      [trigger.type, since.toISOString(), this.clock.now().toISOString(), where, trigger.count],
    );
    return rows;
  }

  /**
   * wait_for in a replay: an enrollment waiting for an event is due when the first matching
   * event happens (live, the arrival wakes it within a second); one statement.
   */
  async scheduleArrivals(): Promise<void> {
    // One subquery per subject column, so each is an index scan on that column (a CASE inside
    // one WHERE could use neither index).
    const firstArrival = (column: 'account_id' | 'contact_id') =>
      `(SELECT min(ev.occurred_at) FROM events ev
         WHERE ev.${column} = w.${column} AND ev.type = w.waiting ->> 'event'
           AND ev.occurred_at >= (w.waiting ->> 'since')::timestamptz
           AND ${propsMatchSql('ev', "COALESCE(w.waiting -> 'where', '{}'::jsonb)")})`;
    await this.db.query(
      `UPDATE enrollments e SET next_run_at = a.at
         FROM (SELECT w.id,
                      CASE WHEN w.contact_id IS NULL THEN ${firstArrival('account_id')}
                           ELSE ${firstArrival('contact_id')} END AS at
                 FROM enrollments w WHERE w.state = 'active' AND w.waiting ->> 'kind' = 'wait_for') a
        WHERE e.id = a.id AND a.at IS NOT NULL AND a.at < e.next_run_at`,
    );
  }

  async enrollmentCount(): Promise<number> {
    const rows: { n: number }[] = await this.db.query(`SELECT count(*)::int AS n FROM enrollments`);
    return rows[0]?.n ?? 0;
  }

  /** The next time an enrollment is due (a run that failed waits for its lease to end, as live). */
  async nextRun(): Promise<Date | undefined> {
    const rows: { at: Date | null }[] = await this.db.query(
      `SELECT min(GREATEST(next_run_at, COALESCE(lease_until, next_run_at))) AS at FROM enrollments WHERE state = 'active'`,
    );
    return rows[0]?.at ?? undefined;
  }

  /** Who of an account entered at `at`, and why. */
  async entriesOf(accountId: string, at: Date): Promise<{ subjectId: string; subject: string; reason: string }[]> {
    const rows: { subject_id: string; subject: string; reason: Record<string, unknown> }[] = await this.db.query(
      `SELECT COALESCE(e.contact_id, e.account_id) AS subject_id,
              CASE WHEN e.contact_id IS NULL THEN 'account ' || a.external_id ELSE 'contact ' || c.external_id END AS subject,
              e.entry_reason AS reason
         FROM enrollments e JOIN accounts a ON a.id = e.account_id LEFT JOIN contacts c ON c.id = e.contact_id
        WHERE e.account_id = $1 AND e.entered_at = $2 ORDER BY 2`,
      [accountId, at.toISOString()],
    );
    return rows.map((r) => ({ subjectId: r.subject_id, subject: r.subject, reason: describeReason(r.reason) }));
  }
}

function describeReason(reason: Record<string, unknown>): string {
  switch (reason.trigger) {
    case 'condition':
      return 'the trigger condition held at its scheduled check';
    case 'event':
      return `${String(reason.type)} event #${String(reason.count)}`;
    case 'date':
      return `${String(reason.fact)} ${String(reason.offset)}`;
    case 'segment':
      return `entered segment ${String(reason.segment)}`;
    default:
      return JSON.stringify(reason);
  }
}
