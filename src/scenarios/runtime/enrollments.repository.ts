import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import type { CatalogDefinition, ScenarioDefinition } from '../core/scenario.schema';
import type { EnrollmentState, Waiting } from '../core/runtime/planner';

export type EnrollmentStatus = 'active' | 'completed' | 'exited' | 'converted';

/** A due enrollment, leased to one worker. */
export interface ClaimedEnrollment {
  state: EnrollmentState;
  scenarioId: string;
  versionHash: string;
  subjectKind: 'contact' | 'account';
  accountId: string;
  contactId: string | null;
}

/** One subject to enroll, with the keys that make entry idempotent. */
export interface EntryCandidate {
  accountId: string;
  contactId: string | null;
  /** `contact:<id>` or `account:<id>` (from the entry policy). */
  entryKey: string;
  /** '' for once-per entries; the occurrence otherwise (a date offset, an entry time). */
  occurrenceKey: string;
  reason: Record<string, unknown>;
}

export interface RawEnrollment {
  id: string;
  scenario_id: string;
  version_hash: string;
  subject_kind: 'contact' | 'account';
  account_id: string;
  contact_id: string | null;
  cursor: number | null;
  waiting: RawWaiting | null;
  assignments: Record<string, string>;
  visits: Record<string, number>;
  entered_at: Date;
}

type RawWaiting =
  | { kind: 'wait'; until: string }
  | { kind: 'wait_for'; event: string; where?: Record<string, unknown>; since: string; timeoutAt: string }
  | { kind: 'holdout'; until: string };

/** An effect as recorded under its intent key (before it is performed). */
export interface EffectRecord {
  intentKey: string;
  enrollmentId: string;
  kind: string;
  stepId: string;
  payload: unknown;
}

/** What a performed effect made: its message or handoff. */
export interface EffectLink {
  intentKey: string;
  messageId?: string;
  handoffId?: string;
}

/** What one run decided for one enrollment, to store in one transaction with its effects. */
export interface EnrollmentUpdate {
  state: EnrollmentState;
  status: EnrollmentStatus;
  nextRunAt: Date | null;
  exitReason: string | null;
  /** The first variant assigned (reports group by it). */
  variant: string | null;
}

/**
 * Storage of enrollments: set-based entry, claiming due work with FOR UPDATE SKIP LOCKED
 * under a lease, and fenced writes (only the lease holder may write an enrollment).
 */
@Injectable()
export class EnrollmentsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Stores a scenario version (idempotent: versions are content hashes). */
  async saveVersion(
    definition: ScenarioDefinition,
    versionHash: string,
    catalog: CatalogDefinition,
    file: string,
    now: Date,
  ): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO scenario_versions (scenario_id, version_hash, definition, catalog, file, loaded_at)
       VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6)
       ON CONFLICT ON CONSTRAINT pk_scenario_versions DO NOTHING`,
      [definition.id, versionHash, JSON.stringify(definition), JSON.stringify(catalog), file, now.toISOString()],
    );
  }

  /**
   * Enrolls candidates in one statement. A candidate already enrolled under the same
   * entry and occurrence keys is skipped (two triggers, two instances: one enrollment);
   * with `againAfterMs`, one that entered less than that long ago is skipped too.
   * Returns the ids of the new enrollments.
   */
  async enroll(
    scenarioId: string,
    versionHash: string,
    subjectKind: 'contact' | 'account',
    candidates: readonly EntryCandidate[],
    now: Date,
    againAfterMs: number | null,
  ): Promise<string[]> {
    if (candidates.length === 0) return [];
    const rows = candidates.map((c) => ({
      id: randomUUID(),
      accountId: c.accountId,
      contactId: c.contactId,
      entryKey: c.entryKey,
      occurrenceKey: c.occurrenceKey,
      reason: c.reason,
    }));
    const inserted: { id: string }[] = await this.dataSource.query(
      `INSERT INTO enrollments (id, scenario_id, version_hash, subject_kind, account_id, contact_id, entry_key,
                                occurrence_key, state, next_run_at, entered_at, entry_reason)
       SELECT c.id, $2, $3, $4, c."accountId", c."contactId", c."entryKey", c."occurrenceKey", 'active', $5, $5, c.reason
         FROM json_to_recordset($1::json) AS c(id uuid, "accountId" uuid, "contactId" uuid, "entryKey" text,
              "occurrenceKey" text, reason jsonb)
        WHERE $6::bigint IS NULL OR NOT EXISTS (
                SELECT 1 FROM enrollments e
                 WHERE e.scenario_id = $2 AND e.entry_key = c."entryKey"
                   AND e.entered_at > $5::timestamptz - make_interval(secs => $6::bigint / 1000.0))
        ORDER BY c."entryKey" COLLATE "C", c."occurrenceKey" COLLATE "C"
       ON CONFLICT ON CONSTRAINT uq_enrollments_entry DO NOTHING
       RETURNING id`,
      [JSON.stringify(rows), scenarioId, versionHash, subjectKind, now.toISOString(), againAfterMs],
    );
    return inserted.map((r) => r.id);
  }

  /**
   * Enrolls every subject a population query selects (columns account_id, and contact_id
   * for contact subjects), in one statement: the trigger scan never loops over subjects in
   * Node. `entryKey` decides what "once" means; `occurrenceKey` separates occurrences.
   */
  async enrollFromQuery(
    population: { sql: string; params: readonly unknown[] },
    e: {
      scenarioId: string;
      versionHash: string;
      subjectKind: 'contact' | 'account';
      entryPer: 'contact' | 'account';
      /** A constant, or `column`: the population query's own `occurrence_key` column (date triggers). */
      occurrenceKey: string | { column: true };
      againAfterMs: number | null;
      reason: Record<string, unknown>;
    },
    now: Date,
  ): Promise<number> {
    const n = population.params.length;
    const p = (i: number) => `$${n + i}`;
    const contactColumn = e.subjectKind === 'contact' ? 'p.contact_id' : 'NULL::uuid';
    const entryKey =
      e.entryPer === 'contact' && e.subjectKind === 'contact'
        ? `'contact:' || p.contact_id`
        : `'account:' || p.account_id`;
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH entered AS (
         INSERT INTO enrollments (id, scenario_id, version_hash, subject_kind, account_id, contact_id, entry_key,
                                  occurrence_key, state, next_run_at, entered_at, entry_reason)
         SELECT gen_random_uuid(), ${p(1)}::text, ${p(2)}::text, ${p(3)}::text, p.account_id, ${contactColumn}, ${entryKey},
                ${typeof e.occurrenceKey === 'string' ? `${p(4)}::text` : `COALESCE(p.occurrence_key, ${p(4)}::text)`},
                'active', ${p(5)}::timestamptz, ${p(5)}::timestamptz, ${p(6)}::jsonb
           FROM (${population.sql}) p
          WHERE ${p(7)}::bigint IS NULL OR NOT EXISTS (
                  SELECT 1 FROM enrollments x
                   WHERE x.scenario_id = ${p(1)} AND x.entry_key = ${entryKey}
                     AND x.entered_at > ${p(5)}::timestamptz - make_interval(secs => ${p(7)}::bigint / 1000.0))
          -- Key order (not the random new id): concurrent scans take the unique-index locks alike.
          ORDER BY (${entryKey}) COLLATE "C"
         ON CONFLICT ON CONSTRAINT uq_enrollments_entry DO NOTHING
         RETURNING 1
       ) SELECT count(*)::int AS n FROM entered`,
      [
        ...population.params,
        e.scenarioId,
        e.versionHash,
        e.subjectKind,
        typeof e.occurrenceKey === 'string' ? e.occurrenceKey : '',
        now.toISOString(),
        JSON.stringify(e.reason),
        e.againAfterMs,
      ],
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Claims the run of a scheduled check: true for exactly one caller once `dueAt` has
   * passed since the last run (any number of instances may ask).
   */
  async claimCheck(scenarioId: string, triggerKey: string, dueAt: Date, now: Date): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO scenario_checks AS s (scenario_id, trigger_key, last_run_at) VALUES ($1, $2, $4)
       ON CONFLICT ON CONSTRAINT pk_scenario_checks DO UPDATE SET last_run_at = EXCLUDED.last_run_at
        WHERE s.last_run_at < $3
       RETURNING 1`,
      [scenarioId, triggerKey, dueAt.toISOString(), now.toISOString()],
    );
    return rows.length > 0;
  }

  /** The last run of a check (event scans use it as their watermark). */
  async lastCheck(scenarioId: string, triggerKey: string): Promise<Date | undefined> {
    const rows: { last_run_at: Date }[] = await this.dataSource.query(
      `SELECT last_run_at FROM scenario_checks WHERE scenario_id = $1 AND trigger_key = $2`,
      [scenarioId, triggerKey],
    );
    return rows[0]?.last_run_at;
  }

  /**
   * Subjects whose matching events reached `count` with events received since `since`:
   * the Nth event happened. Returns account (and contact) ids; the scan is set-based.
   */
  async eventThresholdReached(
    trigger: { type: string; where?: Readonly<Record<string, unknown>> | undefined; count: number },
    per: 'contact' | 'account',
    since: Date,
  ): Promise<{ account_id: string; contact_id: string | null }[]> {
    const key = per === 'contact' ? 'contact_id' : 'account_id';
    const matches = (alias: string) => propsMatchSql(alias, '$2');
    return this.dataSource.query(
      `WITH touched AS (
         SELECT DISTINCT e.${key} AS subject FROM events e
          WHERE e.type = $1 AND e.received_at >= $3 AND e.${key} IS NOT NULL AND ${matches('e')})
       SELECT ${per === 'contact' ? 'c.account_id, c.id AS contact_id' : 'a.id AS account_id, NULL::uuid AS contact_id'}
         FROM touched t
         JOIN ${per === 'contact' ? 'contacts c ON c.id = t.subject' : 'accounts a ON a.id = t.subject'}
        WHERE (SELECT count(*) FROM events x WHERE x.${key} = t.subject AND x.type = $1 AND ${matches('x')}) >= $4`,
      [trigger.type, JSON.stringify(trigger.where ?? {}), since.toISOString(), trigger.count],
    );
  }

  /**
   * Replaces a segment trigger's member snapshot with the subjects a population query
   * selects now (set-based); returns nothing. `subjectColumn` is account_id or contact_id.
   */
  async replaceSegmentMembers(
    scenarioId: string,
    population: { sql: string; params: readonly unknown[] },
    subjectColumn: 'account_id' | 'contact_id',
  ): Promise<void> {
    const n = population.params.length;
    await this.dataSource.transaction(async (m) => {
      await m.query(`DELETE FROM segment_members WHERE scenario_id = $1`, [scenarioId]);
      await m.query(
        `INSERT INTO segment_members (scenario_id, subject_id)
         SELECT DISTINCT $${n + 1}::text, p.${subjectColumn} FROM (${population.sql}) p
         ON CONFLICT ON CONSTRAINT pk_segment_members DO NOTHING`,
        [...population.params, scenarioId],
      );
    });
  }

  /**
   * Goals met (the population query selects the subjects meeting a scenario's goal now),
   * for enrollments still within their goal window (entered at or after `windowStart`):
   * - waiting ones are made due now: the executor converts them, instead of at the end of
   *   their wait (`woken`);
   * - completed ones get their `converted_at` (their state stays `completed`): treated
   *   subjects are measured over the same window as held-out ones, which wait it out;
   *   otherwise a variant's conversions would be undercounted against the holdout (`late`).
   */
  async goalsMet(
    scenarioId: string,
    population: { sql: string; params: readonly unknown[] },
    subjectColumn: 'account_id' | 'contact_id',
    windowStart: Date,
    now: Date,
  ): Promise<{ woken: number; late: number }> {
    const n = population.params.length;
    const update = async (set: string, where: string): Promise<number> => {
      const [, count]: [unknown[], number] = await this.dataSource.query(
        `UPDATE enrollments e SET ${set} = $${n + 2}
          WHERE e.scenario_id = $${n + 1} AND ${where} AND e.entered_at >= $${n + 3}
            AND e.${subjectColumn} IN (SELECT p.${subjectColumn} FROM (${population.sql}) p)`,
        [...population.params, scenarioId, now.toISOString(), windowStart.toISOString()],
      );
      return count;
    };
    return {
      woken: await update('next_run_at', `e.state = 'active' AND e.next_run_at > $${n + 2}`),
      late: await update('converted_at', `e.state = 'completed' AND e.converted_at IS NULL`),
    };
  }

  /** Ends every active enrollment of an archived scenario (reason `archived`); returns how many. */
  async exitAll(scenarioId: string, reason: string, now: Date): Promise<number> {
    const [, count]: [unknown[], number] = await this.dataSource.query(
      `UPDATE enrollments SET state = 'exited', exit_reason = $2, ended_at = $3, next_run_at = NULL,
              lease_owner = NULL, lease_until = NULL
        WHERE scenario_id = $1 AND state = 'active'`,
      [scenarioId, reason, now.toISOString()],
    );
    return count;
  }

  /**
   * Leases up to `limit` due enrollments to `owner` until `now + leaseMs`. Rows leased by
   * a worker that died become due again when its lease expires.
   */
  async claimDue(
    owner: string,
    now: Date,
    leaseMs: number,
    limit: number,
    scenarioIds?: readonly string[],
  ): Promise<ClaimedEnrollment[]> {
    // An UPDATE ... RETURNING answers [rows, affected count] through TypeORM.
    const [rows]: [RawEnrollment[], number] = await this.dataSource.query(
      `UPDATE enrollments e SET lease_owner = $1, lease_until = $2::timestamptz + make_interval(secs => $3 / 1000.0)
        WHERE e.id IN (
          SELECT id FROM enrollments
           WHERE state = 'active' AND next_run_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
             AND ($5::text[] IS NULL OR scenario_id = ANY($5::text[]))
           ORDER BY next_run_at
           LIMIT $4
           FOR UPDATE SKIP LOCKED)
       RETURNING e.id, e.scenario_id, e.version_hash, e.subject_kind, e.account_id, e.contact_id, e.cursor,
                 e.waiting, e.assignments, e.visits, e.entered_at`,
      [owner, now.toISOString(), leaseMs, limit, scenarioIds ?? null],
    );
    return rows.map(toClaimed);
  }

  /**
   * Writes each run's outcome where `owner` still holds the lease, in one statement for a
   * whole batch. Returns the ids written; a missing id lost its lease to another worker
   * (nothing of it may be written: its effects are skipped).
   */
  async fencedUpdate(
    m: EntityManager,
    owner: string,
    updates: readonly EnrollmentUpdate[],
    now: Date,
  ): Promise<Set<string>> {
    if (updates.length === 0) return new Set();
    const rows = updates.map((u) => ({
      id: u.state.id,
      cursor: u.state.cursor,
      waiting: u.state.waiting ?? null,
      assignments: u.state.assignments,
      visits: u.state.visits,
      state: u.status,
      next_run_at: u.nextRunAt?.toISOString() ?? null,
      exit_reason: u.exitReason,
      ended_at: u.status === 'active' ? null : now.toISOString(),
      variant: u.variant,
    }));
    const [written]: [{ id: string }[], number] = await m.query(
      `UPDATE enrollments e
          SET cursor = u.cursor, waiting = u.waiting, assignments = u.assignments, visits = u.visits, state = u.state,
              next_run_at = u.next_run_at, exit_reason = u.exit_reason, ended_at = u.ended_at,
              converted_at = CASE WHEN u.state = 'converted' THEN u.ended_at ELSE e.converted_at END,
              variant = COALESCE(e.variant, u.variant), lease_owner = NULL, lease_until = NULL
         FROM json_to_recordset($2::json) AS u(id uuid, cursor integer, waiting jsonb, assignments jsonb, visits jsonb,
                                              state text, next_run_at timestamptz, exit_reason text,
                                              ended_at timestamptz, variant text)
        WHERE e.id = u.id AND e.lease_owner = $1
        RETURNING e.id`,
      [owner, JSON.stringify(rows)],
    );
    return new Set(written.map((r) => r.id));
  }

  /** Records effects of many enrollments; returns the intent keys that were new (a replayed run finds them stored). */
  async recordEffects(m: EntityManager, effects: readonly EffectRecord[], now: Date): Promise<Set<string>> {
    if (effects.length === 0) return new Set();
    const rows: { intent_key: string }[] = await m.query(
      `INSERT INTO enrollment_effects (intent_key, enrollment_id, kind, step_id, created_at, payload)
       SELECT e."intentKey", e."enrollmentId", e.kind, e."stepId", $2, e.payload
         FROM json_to_recordset($1::json) AS e("intentKey" text, "enrollmentId" uuid, kind text, "stepId" text,
                                               payload jsonb)
       ON CONFLICT ON CONSTRAINT pk_enrollment_effects DO NOTHING
       RETURNING intent_key`,
      [JSON.stringify(effects), now.toISOString()],
    );
    return new Set(rows.map((r) => r.intent_key));
  }

  /** Links recorded effects to what they made (a message, a handoff), in one statement. */
  async linkEffects(m: EntityManager, links: readonly EffectLink[]): Promise<void> {
    if (links.length === 0) return;
    await m.query(
      `UPDATE enrollment_effects f
          SET message_id = COALESCE(l."messageId", f.message_id), handoff_id = COALESCE(l."handoffId", f.handoff_id)
         FROM json_to_recordset($1::json) AS l("intentKey" text, "messageId" uuid, "handoffId" uuid)
        WHERE f.intent_key = l."intentKey"`,
      [JSON.stringify(links)],
    );
  }

  /**
   * Which of these waiting enrollments have their awaited event (type, props filter) since
   * they began waiting: one query for a whole batch. Returns the enrollment ids.
   */
  async eventsArrived(
    /** Only events that happened by then count (a replay of history); undefined: any. */
    until: Date | undefined,
    waits: readonly {
      id: string;
      accountId: string;
      contactId: string | null;
      type: string;
      where: Readonly<Record<string, unknown>> | undefined;
      since: Date;
    }[],
  ): Promise<Set<string>> {
    if (waits.length === 0) return new Set();
    const found = (column: 'contact_id' | 'account_id', key: string) =>
      `EXISTS (SELECT 1 FROM events e
                WHERE e.${column} = w."${key}" AND e.type = w.type AND e.occurred_at >= w.since
                  AND ($2::timestamptz IS NULL OR e.occurred_at <= $2)
                  AND ${propsMatchSql('e', 'w."where"')})`;
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT w.id FROM json_to_recordset($1::json)
                AS w(id uuid, "accountId" uuid, "contactId" uuid, type text, "where" jsonb, since timestamptz)
        WHERE CASE WHEN w."contactId" IS NULL THEN ${found('account_id', 'accountId')}
                   ELSE ${found('contact_id', 'contactId')} END`,
      [JSON.stringify(waits.map((w) => ({ ...w, where: w.where ?? {} }))), until?.toISOString() ?? null],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Active contacts of an account with one of the roles: the recipients of `to: { role: ... }`. */
  async contactsWithRoles(m: EntityManager, accountId: string, roles: readonly string[]): Promise<string[]> {
    const rows: { id: string }[] = await m.query(
      `SELECT id FROM contacts WHERE account_id = $1 AND status = 'active' AND roles && $2::text[] ORDER BY id`,
      [accountId, roles],
    );
    return rows.map((r) => r.id);
  }

  /** Adds or removes a tag in attributes.tags (a list of strings; anything else there is replaced). */
  async changeTag(
    m: EntityManager,
    on: 'contact' | 'account',
    id: string,
    change: { add: string } | { remove: string },
  ): Promise<void> {
    const table = on === 'contact' ? 'contacts' : 'accounts';
    const current = `(SELECT t FROM jsonb_array_elements(CASE WHEN jsonb_typeof(attributes -> 'tags') = 'array'
                        THEN attributes -> 'tags' ELSE '[]'::jsonb END) t WHERE jsonb_typeof(t) = 'string')`;
    const next =
      'add' in change
        ? `(SELECT COALESCE(jsonb_agg(DISTINCT v.t), '[]'::jsonb) FROM (${current} UNION SELECT to_jsonb($2::text)) v(t))`
        : `(SELECT COALESCE(jsonb_agg(v.t), '[]'::jsonb) FROM ${current} v(t) WHERE v.t <> to_jsonb($2::text))`;
    await m.query(`UPDATE ${table} SET attributes = jsonb_set(attributes, '{tags}', ${next}) WHERE id = $1`, [
      id,
      'add' in change ? change.add : change.remove,
    ]);
  }

  /** Sets a custom attribute of a contact or an account. */
  async setAttribute(
    m: EntityManager,
    on: 'contact' | 'account',
    id: string,
    attribute: string,
    value: string | number | boolean | null,
  ): Promise<void> {
    const table = on === 'contact' ? 'contacts' : 'accounts';
    await m.query(
      `UPDATE ${table} SET attributes = attributes || jsonb_build_object($2::text, $3::jsonb) WHERE id = $1`,
      [id, attribute, JSON.stringify(value)],
    );
  }

  /**
   * Human opens and clicks of the messages each enrollment sent, by send step id: what
   * opened(step) / clicked(step) read (a click counts as an open: a person clicked it).
   * Each recipient's message is linked from an effect row; events are found through the
   * contact's events index.
   */
  async activity(
    enrollmentIds: readonly string[],
  ): Promise<Map<string, { opened: Set<string>; clicked: Set<string> }>> {
    const result = new Map<string, { opened: Set<string>; clicked: Set<string> }>();
    if (enrollmentIds.length === 0) return result;
    const rows: { enrollment_id: string; step_id: string; opened: boolean; clicked: boolean }[] =
      await this.dataSource.query(
        `SELECT f.enrollment_id, f.step_id,
                bool_or(ev.type = 'email.opened') AS opened, bool_or(ev.type = 'email.clicked') AS clicked
           FROM enrollment_effects f
           JOIN messages msg ON msg.id = f.message_id
           JOIN events ev ON ev.contact_id = msg.contact_id AND ev.occurred_at >= msg.created_at
                         AND ev.type IN ('email.opened', 'email.clicked')
                         AND ev.props->>'messageId' = msg.id::text
                         AND COALESCE(ev.props->>'classification', 'human') = 'human'
          WHERE f.enrollment_id = ANY($1::uuid[]) AND f.kind = 'send' AND f.message_id IS NOT NULL
          GROUP BY f.enrollment_id, f.step_id`,
        [enrollmentIds],
      );
    for (const row of rows) {
      let entry = result.get(row.enrollment_id);
      if (!entry) {
        entry = { opened: new Set(), clicked: new Set() };
        result.set(row.enrollment_id, entry);
      }
      if (row.opened || row.clicked) entry.opened.add(row.step_id);
      if (row.clicked) entry.clicked.add(row.step_id);
    }
    return result;
  }

  /**
   * Date triggers: ends (state `exited`, reason `occurrence_moved`) the active enrollments
   * of one scenario and one offset whose occurrence is no longer their account's: the
   * occurrence key `<fact>:<offset>:<date>` names a date the account's date fact no longer
   * holds (moved, or cleared). One UPDATE over the whole population. The lease is cleared,
   * so a worker running such an enrollment right now cannot commit its step. Once-per
   * enrollments (occurrence key '') are not touched. Returns how many ended.
   */
  async exitMovedOccurrences(
    scenarioId: string,
    occurrence: { fact: string; offset: string },
    now: Date,
  ): Promise<number> {
    const columns: Record<string, string> = {
      'account.renewal_date': 'renewal_date',
      'account.contract_start': 'contract_start_date',
    };
    const column = columns[occurrence.fact];
    if (column === undefined) throw new Error(`not a date fact: ${occurrence.fact}`);
    const [, count]: [unknown[], number] = await this.dataSource.query(
      `UPDATE enrollments e SET state = 'exited', exit_reason = 'occurrence_moved', ended_at = $3, next_run_at = NULL,
              lease_owner = NULL, lease_until = NULL
         FROM accounts a
        WHERE e.scenario_id = $1 AND e.state = 'active' AND starts_with(e.occurrence_key, $2)
          AND a.id = e.account_id
          AND a.${column}::text IS DISTINCT FROM substr(e.occurrence_key, length($2) + 1)`,
      [scenarioId, `${occurrence.fact}:${occurrence.offset}:`, now.toISOString()],
    );
    return count;
  }

  /**
   * wait_for: makes due now the waiting enrollments whose awaited event (type, props
   * filter, of their contact, or of their account for account journeys) arrived since
   * `since`, so the journey goes on within a second of the event instead of at its timeout.
   * Driven from the events received since then (a small set), one statement. Returns how
   * many were woken.
   */
  async wakeArrivals(since: Date, now: Date): Promise<number> {
    const [, count]: [unknown[], number] = await this.dataSource.query(
      `UPDATE enrollments e SET next_run_at = $2
         FROM (SELECT ev.account_id, ev.contact_id, ev.type, ev.props, ev.occurred_at
                 FROM events ev WHERE ev.received_at >= $1 AND ev.account_id IS NOT NULL) r
        WHERE e.account_id = r.account_id AND e.state = 'active' AND e.next_run_at > $2
          AND e.waiting ->> 'kind' = 'wait_for' AND r.type = e.waiting ->> 'event'
          AND (e.contact_id IS NULL OR e.contact_id = r.contact_id)
          AND r.occurred_at >= (e.waiting ->> 'since')::timestamptz
          AND ${propsMatchSql('r', "COALESCE(e.waiting -> 'where', '{}'::jsonb)")}`,
      [since.toISOString(), now.toISOString()],
    );
    return count;
  }
}

/**
 * An event's props match a `where` filter (a jsonb parameter): every key must match, a
 * scalar by equality, a list when it contains the prop.
 */
export function propsMatchSql(alias: string, whereParam: string): string {
  return `NOT EXISTS (
    SELECT 1 FROM jsonb_each(${whereParam}::jsonb) w
     WHERE NOT CASE WHEN jsonb_typeof(w.value) = 'array'
                    THEN COALESCE(${alias}.props -> w.key IN (SELECT jsonb_array_elements(w.value)), false)
                    ELSE COALESCE(${alias}.props -> w.key = w.value, false) END)`;
}

export function toClaimed(r: RawEnrollment): ClaimedEnrollment {
  return {
    scenarioId: r.scenario_id,
    versionHash: r.version_hash,
    subjectKind: r.subject_kind,
    accountId: r.account_id,
    contactId: r.contact_id,
    state: {
      id: r.id,
      subjectKey: r.contact_id ?? r.account_id,
      enteredAt: r.entered_at,
      cursor: r.cursor,
      waiting: r.waiting === null ? undefined : toWaiting(r.waiting),
      assignments: r.assignments,
      visits: r.visits,
    },
  };
}

function toWaiting(w: RawWaiting): Waiting {
  switch (w.kind) {
    case 'wait':
      return { kind: 'wait', until: new Date(w.until) };
    case 'holdout':
      return { kind: 'holdout', until: new Date(w.until) };
    case 'wait_for':
      return {
        kind: 'wait_for',
        event: w.event,
        where: w.where,
        since: new Date(w.since),
        timeoutAt: new Date(w.timeoutAt),
      };
  }
}
