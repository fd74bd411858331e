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

/** A row `appendEvents` actually stored (rows already present are not returned). */
export interface AppendedEvent {
  id: string;
  source: EventSource;
  idempotencyKey: string;
}

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
  since: Date | undefined;
  until: Date | undefined;
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
   * is already stored; returns the rows actually inserted. Pass the caller's
   * transaction manager to write inside it. Rows are inserted in a fixed key order,
   * so concurrent batches that overlap take their unique-index locks in the same
   * order and cannot deadlock each other.
   */
  async appendEvents(manager: EntityManager, rows: readonly NewEventRow[]): Promise<AppendedEvent[]> {
    if (rows.length === 0) return [];
    const sorted = [...rows].sort(compareKeys);
    const n = sorted.length;
    const type = new Array<string>(n);
    const occurredAt = new Array<string>(n);
    const receivedAt = new Array<string>(n);
    const accountId = new Array<string | null>(n);
    const contactId = new Array<string | null>(n);
    const visitorId = new Array<string | null>(n);
    const source = new Array<string>(n);
    const key = new Array<string>(n);
    const props = new Array<string>(n);
    sorted.forEach((row, i) => {
      type[i] = row.type;
      occurredAt[i] = row.occurredAt.toISOString();
      receivedAt[i] = row.receivedAt.toISOString();
      accountId[i] = row.accountId;
      contactId[i] = row.contactId;
      visitorId[i] = row.visitorId;
      source[i] = row.source;
      key[i] = row.idempotencyKey;
      props[i] = JSON.stringify(row.props);
    });
    const inserted: { id: string; source: EventSource; idempotency_key: string }[] = await manager.query(
      `INSERT INTO events (type, occurred_at, received_at, account_id, contact_id, visitor_id, source, idempotency_key, props)
       SELECT u.type, u.occurred_at, u.received_at, u.account_id, u.contact_id, u.visitor_id, u.source, u.idempotency_key, u.props
       FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::jsonb[])
         WITH ORDINALITY AS u(type, occurred_at, received_at, account_id, contact_id, visitor_id, source, idempotency_key, props, ord)
       ORDER BY u.ord
       ON CONFLICT ON CONSTRAINT uq_events_source_idempotency_key DO NOTHING
       RETURNING id, source, idempotency_key`,
      [type, occurredAt, receivedAt, accountId, contactId, visitorId, source, key, props],
    );
    return inserted.map((r) => ({ id: r.id, source: r.source, idempotencyKey: r.idempotency_key }));
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
    // Site events stay on their visitor; they belong to a contact (and its account)
    // through the visitor's link, so anonymous visits count from the moment of linking.
    const linkedVisitors =
      subject.kind === 'account'
        ? `SELECT v.id::text FROM visitors v JOIN contacts vc ON vc.id = v.contact_id WHERE vc.account_id = $1`
        : `SELECT v.id::text FROM visitors v WHERE v.contact_id = $1`;
    const column = subject.kind === 'account' ? 'e.account_id' : 'e.contact_id';
    const params: unknown[] = [subject.id];
    const where = [`(${column} = $1 OR (e.visitor_id IN (${linkedVisitors}) AND ${column} IS NULL))`];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.types !== undefined) where.push(`e.type = ANY(${param(filter.types)}::text[])`);
    if (filter.since !== undefined) where.push(`e.occurred_at >= ${param(filter.since.toISOString())}::timestamptz`);
    if (filter.until !== undefined) where.push(`e.occurred_at < ${param(filter.until.toISOString())}::timestamptz`);
    const direction = filter.order === 'asc' ? 'ASC' : 'DESC';
    if (filter.after !== undefined) {
      const comparison = filter.order === 'asc' ? '>' : '<';
      where.push(
        `(e.occurred_at, e.id) ${comparison} (${param(filter.after.occurredKey)}::timestamptz, ${param(filter.after.id)}::bigint)`,
      );
    }
    const rows: RawTimelineRow[] = await this.dataSource.query(
      `SELECT e.id, e.type, e.occurred_at, e.received_at, e.source, e.visitor_id, e.props,
              to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_key,
              a.external_id AS account_external_id, c.external_id AS contact_external_id
       FROM events e
       LEFT JOIN visitors v ON e.contact_id IS NULL AND v.id::text = e.visitor_id
       LEFT JOIN contacts c ON c.id = COALESCE(e.contact_id, v.contact_id)
       LEFT JOIN accounts a ON a.id = COALESCE(e.account_id, c.account_id)
       WHERE ${where.join(' AND ')}
       ORDER BY e.occurred_at ${direction}, e.id ${direction}
       LIMIT ${param(filter.limit + 1)}`,
      params,
    );
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

function compareKeys(a: NewEventRow, b: NewEventRow): number {
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  if (a.idempotencyKey === b.idempotencyKey) return 0;
  return a.idempotencyKey < b.idempotencyKey ? -1 : 1;
}
