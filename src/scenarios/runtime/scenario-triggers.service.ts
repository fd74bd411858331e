import { Inject, Injectable } from '@nestjs/common';
import { DateTime } from 'luxon';
import { Clock } from '../../common/clock';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { buildPopulationQuery } from '../../metrics/fact-sql';
import { factSettingsFrom } from '../../metrics/fact-settings';
import type { CheckedExpression } from '../core/expression';
import { analyzeWithCatalog } from '../core/scenario-expressions';
import { durationMs } from '../core/runtime/compiled-scenario';
import type { CatalogDefinition, ScenarioDefinition } from '../core/scenario.schema';
import { EnrollmentsRepository } from './enrollments.repository';
import type { LoadedScenario } from './scenario-registry.service';

/** Event triggers rescan this far back, so an event committed late (out of id order) still counts. */
const EVENT_OVERLAP_MS = 10_000;

/**
 * The audience as one condition: tier, lifecycle, roles, segments and `when` joined by
 * `and`, with active accounts (and active contacts for contact subjects) only. Written in
 * the expression language so it compiles to SQL like any other condition.
 */
export function audienceCondition(definition: ScenarioDefinition): string {
  return audienceParts(definition).join(' and ');
}

/** The audience's conditions one by one (the explainer shows each). */
export function audienceParts(definition: ScenarioDefinition): string[] {
  const parts: string[] = [`account.status == 'active'`];
  if (definition.subject === 'contact') parts.push(`contact.status == 'active'`);
  const list = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;
  const a = definition.audience;
  if (a?.tier) parts.push(`account.tier in ${list(a.tier)}`);
  if (a?.lifecycle) parts.push(`account.lifecycle in ${list(a.lifecycle)}`);
  if (a?.roles) parts.push(`(${a.roles.map((r) => `'${r}' in contact.roles`).join(' or ')})`);
  for (const segment of a?.segments ?? []) parts.push(`segment('${segment}')`);
  if (a?.when) parts.push(`(${a.when})`);
  return parts;
}

/**
 * The most recent scheduled time at or before `now` for `daily at HH:MM`,
 * `weekdays at HH:MM` or `every <n>m|h`, in `zone`.
 */
export function lastScheduledTime(check: string, now: Date, zone: string): Date {
  const every = /^every (\d+)(m|h)$/.exec(check);
  if (every) {
    const period = Number(every[1]) * (every[2] === 'h' ? 3_600_000 : 60_000);
    return new Date(Math.floor(now.getTime() / period) * period);
  }
  const match = /^(daily|weekdays) at (\d{2}):(\d{2})$/.exec(check);
  if (!match) throw new Error(`not a check schedule: ${check}`);
  const local = DateTime.fromJSDate(now, { zone });
  for (let back = 0; back < 8; back++) {
    const candidate = local
      .minus({ days: back })
      .set({ hour: Number(match[2]), minute: Number(match[3]), second: 0, millisecond: 0 });
    if (candidate > local) continue;
    if (match[1] === 'weekdays' && candidate.weekday > 5) continue;
    return candidate.toJSDate();
  }
  throw new Error(`no scheduled time for ${check}`);
}

/**
 * Whether a scheduled check due at `dueAt` may still run at `now`: `every` checks until the
 * next one is due (always, for the last one), `daily`/`weekdays` ones on their local day.
 */
function sameWindow(check: string, dueAt: Date, now: Date, zone: string): boolean {
  if (check.startsWith('every ')) return true;
  const day = (d: Date) => DateTime.fromJSDate(d, { zone }).toISODate();
  return day(dueAt) === day(now);
}

/**
 * A cooldown as the scans apply it: a little shorter than written, because entry times are
 * scan times and jitter by seconds: `again_after: 30d` with a daily check re-enters on day
 * 30, not on day 31 when today's scan ran a few seconds earlier than the first one.
 */
function cooldownMs(againAfterMs: number): number {
  return againAfterMs - Math.min(15 * 60_000, againAfterMs / 4);
}

/**
 * Trigger scans: scheduled conditions and event thresholds, each one set-based SQL over
 * the whole population (the expression compiler), enrolling with one INSERT ... SELECT.
 */
@Injectable()
export class ScenarioTriggers {
  private arrivalsScannedAt: Date | undefined;

  constructor(
    private readonly enrollments: EnrollmentsRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Runs every condition trigger whose scheduled time has come (once across instances). */
  async scanConditions(scenarios: readonly LoadedScenario[]): Promise<Map<string, number>> {
    const now = this.clock.now();
    const entered = new Map<string, number>();
    for (const s of scenarios) {
      const definition = s.compiled.definition;
      if (!('condition' in definition.trigger)) continue;
      const zone = definition.time_zone ?? this.config.defaults.timeZone;
      const check = definition.trigger.condition.check;
      const dueAt = lastScheduledTime(check, now, zone);
      // A `daily`/`weekdays` check missed while no worker ran is run late only on its own local
      // day; past it, the next scheduled check runs on time (a new scenario still checks at once).
      const missed = !sameWindow(check, dueAt, now, zone);
      if (missed && (await this.enrollments.lastCheck(definition.id, 'condition')) !== undefined) continue;
      if (!(await this.enrollments.claimCheck(definition.id, 'condition', dueAt, now))) continue;
      const condition = this.compile(
        definition,
        s.catalog,
        `(${audienceCondition(definition)}) and (${definition.trigger.condition.when})`,
      );
      const n = await this.enrollPopulation(s, condition, now, { trigger: 'condition', checkedAt: now.toISOString() });
      entered.set(definition.id, n);
      logger.info({ scenario: definition.id, entered: n }, 'condition trigger checked');
    }
    return entered;
  }

  /**
   * Date-offset triggers: subjects whose date fact plus an offset is today in the
   * recipient's time zone (the contact's, else the account's, for contact subjects; the
   * account's for account subjects), once the local time has reached `at`. Each (date,
   * offset) is an occurrence of its own, entered once, and only on its local day: one missed
   * while no worker ran does not fire the next day. An active enrollment whose date has moved
   * since it entered exits first (`occurrence_moved`); the new date enrolls on its own day.
   * Run with the condition checks; one exit and one enrolling statement per offset.
   */
  async scanDates(scenarios: readonly LoadedScenario[]): Promise<Map<string, number>> {
    const now = this.clock.now();
    const entered = new Map<string, number>();
    for (const s of scenarios) {
      const definition = s.compiled.definition;
      if (!('date' in definition.trigger)) continue;
      const { fact, offsets, at } = definition.trigger.date;
      const column = fact.replace(/^account\./, '').replace(/^contact\./, '');
      const factColumn = column === 'contract_start' ? 'contract_start_date' : column;
      const audience = this.compile(definition, s.catalog, audienceCondition(definition));
      let total = 0;
      for (const offset of offsets) {
        const moved = await this.enrollments.exitMovedOccurrences(definition.id, { fact, offset }, now);
        if (moved > 0)
          logger.info({ scenario: definition.id, offset, exited: moved }, 'date moved: occurrences exited');
        const population = buildPopulationQuery(audience, {
          now,
          settings: this.settings(s),
          scope: definition.subject,
        });
        const n = population.params.length;
        const zone =
          definition.subject === 'contact'
            ? `COALESCE(cz.time_zone, az.time_zone, $${n + 2})`
            : `COALESCE(az.time_zone, $${n + 2})`;
        const local = `($${n + 1}::timestamptz AT TIME ZONE ${zone})`;
        const wrapped = {
          sql: `SELECT p.*, ${this.occurrenceSql(fact, offset, factColumn)} AS occurrence_key
                  FROM (${population.sql}) p
                  JOIN accounts az ON az.id = p.account_id
                  ${definition.subject === 'contact' ? 'JOIN contacts cz ON cz.id = p.contact_id' : ''}
                 WHERE az.${factColumn} + $${n + 4}::int = ${local}::date AND ${local}::time >= $${n + 3}::time`,
          params: [
            ...population.params,
            now.toISOString(),
            this.config.defaults.timeZone,
            at,
            Number(offset.replace(/d$/, '')),
          ],
        };
        total += await this.enter(
          s,
          wrapped,
          { once: '', repeatable: { column: true } },
          { trigger: 'date', fact, offset },
          now,
        );
      }
      entered.set(definition.id, total);
    }
    return entered;
  }

  /**
   * Segment triggers: subjects in the segment now that were not at the previous check
   * (and in the audience) enroll; the member snapshot is then replaced. The first check of
   * a scenario only records who is in the segment: activating a scenario does not enroll
   * everyone already there.
   */
  async scanSegments(scenarios: readonly LoadedScenario[]): Promise<Map<string, number>> {
    const now = this.clock.now();
    const entered = new Map<string, number>();
    for (const s of scenarios) {
      const definition = s.compiled.definition;
      if (!('segment' in definition.trigger)) continue;
      const trigger = definition.trigger.segment;
      const zone = definition.time_zone ?? this.config.defaults.timeZone;
      const dueAt = lastScheduledTime(trigger.check, now, zone);
      const firstCheck = (await this.enrollments.lastCheck(definition.id, 'segment')) === undefined;
      // Like condition checks: a missed `daily`/`weekdays` check runs late only on its own day.
      // Nobody is lost: the next check compares with the last snapshot and finds them.
      if (!firstCheck && !sameWindow(trigger.check, dueAt, now, zone)) continue;
      if (!(await this.enrollments.claimCheck(definition.id, 'segment', dueAt, now))) continue;
      const settings = this.settings(s);
      const subjectColumn = definition.subject === 'contact' ? 'contact_id' : 'account_id';
      let n = 0;
      if (!firstCheck) {
        const condition = this.compile(
          definition,
          s.catalog,
          `(${audienceCondition(definition)}) and segment('${trigger.entered}')`,
        );
        const population = buildPopulationQuery(condition, { now, settings, scope: definition.subject });
        const k = population.params.length;
        const newcomers = {
          sql: `SELECT p.* FROM (${population.sql}) p
                 WHERE NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.scenario_id = $${k + 1} AND m.subject_id = p.${subjectColumn})`,
          params: [...population.params, definition.id],
        };
        // Each entry into the segment is an occurrence (re-running one scheduled check is idempotent).
        n = await this.enter(
          s,
          newcomers,
          { once: '', repeatable: `segment:${dueAt.toISOString()}` },
          { trigger: 'segment', segment: trigger.entered, checkedAt: dueAt.toISOString() },
          now,
        );
      }
      const members = buildPopulationQuery(this.compile(definition, s.catalog, `segment('${trigger.entered}')`), {
        now,
        settings,
        scope: definition.subject,
      });
      await this.enrollments.replaceSegmentMembers(definition.id, members, subjectColumn);
      entered.set(definition.id, n);
    }
    return entered;
  }

  /**
   * Goals met while enrollments wait: one query per scenario wakes them so they convert now
   * (the planner decides; goals using opened()/clicked() are checked when the enrollment runs).
   */
  async scanGoals(scenarios: readonly LoadedScenario[]): Promise<Map<string, number>> {
    const now = this.clock.now();
    const woken = new Map<string, number>();
    for (const s of scenarios) {
      const definition = s.compiled.definition;
      if (!definition.goal) continue;
      const analyzed = analyzeWithCatalog(definition.goal.when, s.catalog, {
        scope: definition.subject,
        context: 'population',
      });
      if (!analyzed.checked) continue; // opened()/clicked(): only the enrollment's own run can tell
      const population = buildPopulationQuery(analyzed.checked, {
        now,
        settings: this.settings(s),
        scope: definition.subject,
      });
      const column = definition.subject === 'contact' ? 'contact_id' : 'account_id';
      const windowStart = new Date(now.getTime() - durationMs(definition.goal.within));
      const met = await this.enrollments.goalsMet(definition.id, population, column, windowStart, now);
      woken.set(definition.id, met.woken);
    }
    return woken;
  }

  /** `account.renewal_date:-90d:2027-03-31`: one occurrence per date and offset (fact and offset are validated names). */
  private occurrenceSql(fact: string, offset: string, column: string): string {
    return `'${fact}:${offset}:' || az.${column}::text`;
  }

  /** Enrolls subjects whose matching events reached the trigger's count since the last scan. */
  async scanEvents(scenarios: readonly LoadedScenario[]): Promise<Map<string, number>> {
    const now = this.clock.now();
    const entered = new Map<string, number>();
    for (const s of scenarios) {
      const definition = s.compiled.definition;
      if (!('event' in definition.trigger)) continue;
      const trigger = definition.trigger.event;
      const last = await this.enrollments.lastCheck(definition.id, 'event');
      // The first scan looks back one overlap only: history before the scenario went live does not enroll.
      const since = new Date((last ?? now).getTime() - EVENT_OVERLAP_MS);
      const subjects = await this.enrollments.eventThresholdReached(trigger, definition.subject, since);
      let n = 0;
      if (subjects.length > 0) {
        const condition = this.compile(definition, s.catalog, audienceCondition(definition));
        const ids = subjects.map((x) => (definition.subject === 'contact' ? x.contact_id! : x.account_id));
        n = await this.enrollPopulation(
          s,
          condition,
          now,
          { trigger: 'event', type: trigger.type, count: trigger.count },
          ids,
          `count:${trigger.count}`,
        );
      }
      await this.enrollments.claimCheck(definition.id, 'event', now, now);
      entered.set(definition.id, n);
    }
    return entered;
  }

  /**
   * wait_for: wakes the waiting enrollments whose awaited event arrived since the last scan,
   * so the journey goes on within a second or two of the event (not at its timeout). The
   * first scan of a process looks back an hour (events that arrived while no worker ran).
   */
  async scanArrivals(): Promise<number> {
    const now = this.clock.now();
    const since = new Date(
      this.arrivalsScannedAt === undefined
        ? now.getTime() - 3_600_000
        : this.arrivalsScannedAt.getTime() - EVENT_OVERLAP_MS,
    );
    const woken = await this.enrollments.wakeArrivals(since, now);
    this.arrivalsScannedAt = now;
    return woken;
  }

  private compile(definition: ScenarioDefinition, catalog: CatalogDefinition, text: string): CheckedExpression {
    const analyzed = analyzeWithCatalog(text, catalog, { scope: definition.subject, context: 'population' });
    if (analyzed.checked === undefined) {
      throw new Error(`${definition.id}: ${analyzed.issues.map((i) => i.message).join('; ')}`);
    }
    return analyzed.checked;
  }

  private async enrollPopulation(
    s: LoadedScenario,
    condition: CheckedExpression,
    now: Date,
    reason: Record<string, unknown>,
    subjectIds?: readonly string[],
    occurrence?: string,
  ): Promise<number> {
    const definition = s.compiled.definition;
    const query = buildPopulationQuery(condition, {
      now,
      settings: this.settings(s),
      scope: definition.subject,
      ...(subjectIds ? { subjectIds } : {}),
    });
    // Repeatable entry: each entry is its own occurrence.
    return this.enter(s, query, { once: occurrence ?? '', repeatable: now.toISOString() }, reason, now);
  }

  private settings(s: LoadedScenario) {
    return factSettingsFrom(this.config, s.catalog.page_groups);
  }

  /**
   * Enrolls what a population query selects under the scenario's entry policy: once per
   * contact or account (`occurrence.once`, usually ''), or again after a cooldown, each
   * entry then being the occurrence `occurrence.repeatable`.
   */
  private enter(
    s: LoadedScenario,
    population: { sql: string; params: readonly unknown[] },
    occurrence: { once: string; repeatable: string | { column: true } },
    reason: Record<string, unknown>,
    now: Date,
  ): Promise<number> {
    const definition = s.compiled.definition;
    const entry = definition.entry;
    const once = 'once_per' in entry;
    return this.enrollments.enrollFromQuery(
      population,
      {
        scenarioId: definition.id,
        versionHash: s.compiled.versionHash,
        subjectKind: definition.subject,
        entryPer: once ? entry.once_per : entry.per,
        occurrenceKey: once ? occurrence.once : occurrence.repeatable,
        againAfterMs: once ? null : cooldownMs(durationMs(entry.again_after)),
        reason,
      },
      now,
    );
  }
}
