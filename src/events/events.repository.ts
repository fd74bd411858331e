import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { JsonObject } from '../common/json';
import type { EventSource } from './event.entity';

/** One event to append. `idempotencyKey` is unique per source: a second row with the same pair is skipped. */
export interface NewEventRow {
  type: string;
  occurredAt: Date;
  receivedAt: Date;
  accountId: string | null;
  contactId: string | null;
  visitorId: string | null;
  source: EventSource;
  idempotencyKey: string;
  props: JsonObject;
}

/**
 * A row for `appendEvents`: its times may also be ISO 8601 texts with an offset, already
 * validated. The API passes its input through: turning 1,000 texts into Dates and back
 * costs ~1.5 ms a batch.
 */
export type AppendableEventRow = Omit<NewEventRow, 'occurredAt' | 'receivedAt'> & {
  occurredAt: Date | string;
  receivedAt: Date | string;
};

/** Accounts and contacts found for a batch's external ids. */
export interface ResolvedReferences {
  /** account external id -> account id */
  accounts: Map<string, string>;
  /** contact external id -> { id, accountId } */
  contacts: Map<string, { id: string; accountId: string }>;
}

export type TimelineSubject = { kind: 'account'; id: string } | { kind: 'contact'; id: string };

export interface TimelineFilter {
  order: 'asc' | 'desc';
  limit: number;
  types: string[] | undefined;
  /** ISO 8601 times PostgreSQL reads as written (see toPostgresTime): microseconds count. */
  since: string | undefined;
  until: string | undefined;
  /** Keyset position: occurred_at as an exact UTC text (microseconds) and the event id. */
  after: { occurredKey: string; id: string } | undefined;
}

export interface TimelineRow {
  id: string;
  type: string;
  occurredAt: Date;
  /** occurred_at with full (microsecond) precision, for cursors. */
  occurredKey: string;
  receivedAt: Date;
  source: EventSource;
  accountExternalId: string | null;
  contactExternalId: string | null;
  visitorId: string | null;
  props: JsonObject;
}

interface RawTimelineRow {
  id: string;
  type: string;
  occurred_at: Date;
  occurred_key: string;
  received_at: Date;
  source: EventSource;
  account_external_id: string | null;
  contact_external_id: string | null;
  visitor_id: string | null;
  props: JsonObject;
}

/** The columns an appended event fills, in the order APPEND_EVENTS_SQL (and a COPY of the same rows) writes them. */
export const APPENDED_EVENT_COLUMNS =
  'type, occurred_at, received_at, account_id, contact_id, visitor_id, source, idempotency_key, props';

/** Appends a JSON array of NewEventRow (one parameter); see EventsRepository.appendEvents. */
export const APPEND_EVENTS_SQL = `WITH inserted AS (
     INSERT INTO events (${APPENDED_EVENT_COLUMNS})
     SELECT u.type, u."occurredAt", u."receivedAt", u."accountId", u."contactId", u."visitorId", u.source, u."idempotencyKey", u.props
       FROM json_to_recordset($1::json) AS u(type text, "occurredAt" timestamptz, "receivedAt" timestamptz,
            "accountId" uuid, "contactId" uuid, "visitorId" text, source text, "idempotencyKey" text, props jsonb)
      ORDER BY u.source COLLATE "C", u."idempotencyKey" COLLATE "C"
     ON CONFLICT ON CONSTRAINT uq_events_source_idempotency_key DO NOTHING
     RETURNING 1
   ) SELECT count(*)::int AS n FROM inserted`;

/**
 * The rows as the JSON array APPEND_EVENTS_SQL reads. Every value goes through
 * `JSON.stringify` (so escaping is JSON's own, and Dates become ISO 8601 texts), but the
 * record is written field by field and null references are left out (`json_to_recordset`
 * reads a missing key as NULL): about three times faster than `JSON.stringify(rows)` and
 * a smaller parameter for PostgreSQL to parse. The API appends 1,000 events a request.
 */
export function eventRowsJson(rows: readonly AppendableEventRow[]): string {
  const q = JSON.stringify;
  let json = '[';
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    json += i === 0 ? '{"type":' : ',{"type":';
    json += q(r.type) + ',"occurredAt":' + q(r.occurredAt) + ',"receivedAt":' + q(r.receivedAt);
    if (r.accountId !== null) json += ',"accountId":' + q(r.accountId);
    if (r.contactId !== null) json += ',"contactId":' + q(r.contactId);
    if (r.visitorId !== null) json += ',"visitorId":' + q(r.visitorId);
    json += ',"source":' + q(r.source) + ',"idempotencyKey":' + q(r.idempotencyKey) + ',"props":' + q(r.props) + '}';
  }
  return json + ']';
}

/** Storage of the events log: set-based writes and keyset reads. The only place events SQL lives. */
@Injectable()
export class EventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The manager for work outside a caller's transaction. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  /**
   * Appends rows with ONE statement, skipping any whose (source, idempotency key)
   * is already stored; returns how many rows were inserted. Pass the caller's
   * transaction manager to write inside it. The rows travel as one JSON parameter
   * (see `eventRowsJson`, read with `json_to_recordset`): per-row array parameters
   * cost more in Node (every element escaped) and in PostgreSQL (array literals
   * parsed). Rows are inserted in key order (byte order, `COLLATE "C"`), so
   * concurrent batches that overlap take their unique-index locks in the same
   * order and cannot deadlock each other.
   */
  async appendEvents(manager: EntityManager, rows: readonly AppendableEventRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const inserted: { n: number }[] = await manager.query(APPEND_EVENTS_SQL, [eventRowsJson(rows)]);
    return inserted[0]?.n ?? 0;
  }

  /** Looks up every account and contact external id of a batch in one query. */
  async resolveReferences(accountExternalIds: string[], contactExternalIds: string[]): Promise<ResolvedReferences> {
    const accounts = new Map<string, string>();
    const contacts = new Map<string, { id: string; accountId: string }>();
    if (accountExternalIds.length === 0 && contactExternalIds.length === 0) return { accounts, contacts };
    const rows: { kind: 'account' | 'contact'; id: string; external_id: string; account_id: string }[] =
      await this.dataSource.query(
        `SELECT 'account' AS kind, id, external_id, id AS account_id FROM accounts WHERE external_id = ANY($1::text[])
         UNION ALL
         SELECT 'contact' AS kind, id, external_id, account_id FROM contacts WHERE external_id = ANY($2::text[])`,
        [accountExternalIds, contactExternalIds],
      );
    for (const row of rows) {
      if (row.kind === 'account') accounts.set(row.external_id, row.id);
      else contacts.set(row.external_id, { id: row.id, accountId: row.account_id });
    }
    return { accounts, contacts };
  }

  /**
   * One page of a timeline, keyset on (occurred_at, id) so it walks
   * ix_events_account_occurred / ix_events_contact_occurred without OFFSET.
   * Returns up to `limit + 1` rows; the extra one tells the caller a next page exists.
   */
  async timelinePage(subject: TimelineSubject, filter: TimelineFilter): Promise<TimelineRow[]> {
    const { text, params } = timelineQuery(subject, filter);
    const rows: RawTimelineRow[] = await this.dataSource.query(text, params);
    return rows.map((r) => ({
      id: r.id,
      type: r.type,
      occurredAt: r.occurred_at,
      occurredKey: r.occurred_key,
      receivedAt: r.received_at,
      source: r.source,
      accountExternalId: r.account_external_id,
      contactExternalId: r.contact_external_id,
      visitorId: r.visitor_id,
      props: r.props,
    }));
  }
}

/**
 * The SQL of one timeline page (exported for the plan test). Site events stay on their
 * visitor; they belong to a contact (and its account) through the visitor's link, so
 * anonymous visits count from the moment of linking. The linked visitors are one array
 * (`= ANY(ARRAY(...))`), not an `IN (subquery)`: inside the OR a subquery would be a hashed
 * subplan that no index serves, and every page would scan the whole log; as an array both
 * arms are index scans (the subject's index and `ix_events_visitor_occurred`).
 */
export function timelineQuery(subject: TimelineSubject, filter: TimelineFilter): { text: string; params: unknown[] } {
  const linkedVisitors =
    subject.kind === 'account'
      ? `SELECT v.id::text FROM visitors v JOIN contacts vc ON vc.id = v.contact_id WHERE vc.account_id = $1`
      : `SELECT v.id::text FROM visitors v WHERE v.contact_id = $1`;
  const column = subject.kind === 'account' ? 'e.account_id' : 'e.contact_id';
  const params: unknown[] = [subject.id];
  const where = [`(${column} = $1 OR (e.visitor_id = ANY(ARRAY(${linkedVisitors})) AND ${column} IS NULL))`];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.types !== undefined) where.push(`e.type = ANY(${param(filter.types)}::text[])`);
  if (filter.since !== undefined) where.push(`e.occurred_at >= ${param(filter.since)}::timestamptz`);
  if (filter.until !== undefined) where.push(`e.occurred_at < ${param(filter.until)}::timestamptz`);
  const direction = filter.order === 'asc' ? 'ASC' : 'DESC';
  if (filter.after !== undefined) {
    const comparison = filter.order === 'asc' ? '>' : '<';
    where.push(
      `(e.occurred_at, e.id) ${comparison} (${param(filter.after.occurredKey)}::timestamptz, ${param(filter.after.id)}::bigint)`,
    );
  }
  const text = `SELECT e.id, e.type, e.occurred_at, e.received_at, e.source, e.visitor_id, e.props,
          to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_key,
          a.external_id AS account_external_id, c.external_id AS contact_external_id
     FROM events e
     LEFT JOIN visitors v ON e.contact_id IS NULL AND v.id::text = e.visitor_id
     LEFT JOIN contacts c ON c.id = COALESCE(e.contact_id, v.contact_id)
     LEFT JOIN accounts a ON a.id = COALESCE(e.account_id, c.account_id)
    WHERE ${where.join(' AND ')}
    ORDER BY e.occurred_at ${direction}, e.id ${direction}
    LIMIT ${param(filter.limit + 1)}`;
  return { text, params };
}
