import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { JsonObject } from '../common/json';
import { toStorableText } from '../common/storable';
import type { LinkStatus } from './visitor.entity';

export interface StoredLink {
  url: string;
  contactId: string;
  sentAt: Date | null;
  linkCount: number;
}

/** One event of a batch; sent to PostgreSQL as JSON as it is, so the field names are those writeBatch reads. */
export interface TrackingEventRow {
  type: string;
  /**
   * Epoch milliseconds: a number costs less than a Date in `JSON.stringify` (no
   * `toISOString` per row) and in PostgreSQL (`to_timestamp` instead of parsing text).
   */
  occurredAtMs: number;
  messageId: string | null;
  visitorId: string | null;
  key: string;
  props: JsonObject;
}

export interface VisitorSeen {
  id: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

export interface VisitorLinkRow {
  visitorId: string;
  contactId: string | null;
  linkStatus: LinkStatus | null;
  linkedAt: Date | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

/** SQL of the tracking module: batch writes of hits, link lookups, visitor links. */
@Injectable()
export class TrackingRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findLink(messageId: string, linkIndex: number): Promise<StoredLink | null> {
    const rows: { url: string; contact_id: string; sent_at: Date | null; link_count: number }[] =
      await this.dataSource.query(
        `SELECT l.url, m.contact_id, m.sent_at,
                (SELECT count(*)::int FROM message_links x WHERE x.message_id = m.id) AS link_count
           FROM message_links l JOIN messages m ON m.id = l.message_id
          WHERE l.message_id = $1 AND l.link_index = $2`,
        [messageId, linkIndex],
      );
    const row = rows[0];
    return row ? { url: row.url, contactId: row.contact_id, sentAt: row.sent_at, linkCount: row.link_count } : null;
  }

  /**
   * Send times of the given messages as epoch milliseconds (absent: no such message;
   * null: not sent yet). Numbers rather than dates: this runs for every batch of opens.
   */
  async sentTimes(messageIds: string[]): Promise<Map<string, number | null>> {
    if (messageIds.length === 0) return new Map();
    const rows: { id: string; sent_ms: number | null }[] = await this.dataSource.query(
      'SELECT id, (extract(epoch FROM sent_at) * 1000)::float8 AS sent_ms FROM messages WHERE id = ANY($1::uuid[])',
      [messageIds],
    );
    return new Map(rows.map((r) => [r.id, r.sent_ms === null ? null : Number(r.sent_ms)]));
  }

  /**
   * Writes one batch: visitors first seen / last seen, then every event in one
   * statement. Email events take their contact and account from the message;
   * site events stay on the visitor and are attributed through its link when read,
   * so earlier anonymous visits count for the contact the moment it is linked.
   *
   * The events travel as one JSON array parameter (one `JSON.stringify`, read with
   * `jsonb_to_recordset`) rather than six array parameters: half the CPU in Tend per
   * row, as much or less in PostgreSQL. Rows are inserted in key order (byte order,
   * `COLLATE "C"`) so concurrent batches take their unique-index locks in one order.
   * Returns how many events were new.
   */
  async writeBatch(events: TrackingEventRow[], visitors: VisitorSeen[]): Promise<number> {
    if (visitors.length === 0) return this.insertEvents(this.dataSource.manager, events);
    return this.dataSource.transaction(async (m) => {
      // In id order (the events below go in key order): two instances writing overlapping
      // visitors lock their rows in the same order and cannot deadlock. A visitor first seen by another
      // instance's later batch, or by an identify, keeps the earliest time either saw.
      const ordered = [...visitors].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      await m.query(
        `INSERT INTO visitors (id, first_seen_at, last_seen_at)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[])
         ON CONFLICT (id) DO UPDATE SET first_seen_at = LEAST(visitors.first_seen_at, EXCLUDED.first_seen_at),
                                        last_seen_at = GREATEST(visitors.last_seen_at, EXCLUDED.last_seen_at)`,
        [
          ordered.map((v) => v.id),
          ordered.map((v) => v.firstSeenAt.toISOString()),
          ordered.map((v) => v.lastSeenAt.toISOString()),
        ],
      );
      return this.insertEvents(m, events);
    });
  }

  private async insertEvents(m: EntityManager, events: TrackingEventRow[]): Promise<number> {
    if (events.length === 0) return 0;
    const rows: { n: number }[] = await m.query(
      `WITH inserted AS (
         INSERT INTO events (type, occurred_at, account_id, contact_id, visitor_id, source, idempotency_key, props)
         SELECT h.type, to_timestamp(h."occurredAtMs" / 1000), msg.account_id, msg.contact_id, h."visitorId", 'tracking', h.key, h.props
           FROM jsonb_to_recordset($1::jsonb)
                AS h(type text, "occurredAtMs" float8, "messageId" uuid, "visitorId" text, key text, props jsonb)
           LEFT JOIN messages msg ON msg.id = h."messageId"
          WHERE h."messageId" IS NULL OR msg.id IS NOT NULL
          ORDER BY h.key COLLATE "C"
         ON CONFLICT ON CONSTRAINT uq_events_source_idempotency_key DO NOTHING
         RETURNING 1
       ) SELECT count(*)::int AS n FROM inserted`,
      [eventsJson(events)],
    );
    return rows[0]?.n ?? 0;
  }

  /** Runs `work` with the visitor's row locked (created if new). */
  withLockedVisitor<T>(
    visitorId: string,
    now: Date,
    work: (m: EntityManager, row: VisitorLinkRow) => Promise<T>,
  ): Promise<T> {
    return this.dataSource.transaction(async (m) => {
      await m.query(
        `INSERT INTO visitors (id, first_seen_at, last_seen_at) VALUES ($1, $2, $2) ON CONFLICT (id) DO NOTHING`,
        [visitorId, now.toISOString()],
      );
      const rows: RawVisitor[] = await m.query(`SELECT * FROM visitors WHERE id = $1 FOR UPDATE`, [visitorId]);
      return work(m, toVisitorRow(rows[0]!));
    });
  }

  async setLink(m: EntityManager, visitorId: string, contactId: string, status: LinkStatus, now: Date): Promise<void> {
    await m.query(`UPDATE visitors SET contact_id = $2, link_status = $3, linked_at = $4 WHERE id = $1`, [
      visitorId,
      contactId,
      status,
      now.toISOString(),
    ]);
  }

  async recordConflict(
    m: EntityManager,
    conflict: { visitorId: string; linkedContactId: string; attemptedContactId: string; method: LinkStatus; at: Date },
  ): Promise<void> {
    await m.query(
      `INSERT INTO identity_conflicts (visitor_id, linked_contact_id, attempted_contact_id, method, occurred_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        conflict.visitorId,
        conflict.linkedContactId,
        conflict.attemptedContactId,
        conflict.method,
        conflict.at.toISOString(),
      ],
    );
  }

  async findContactIdByEmail(email: string): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query('SELECT id FROM contacts WHERE email = $1', [email]);
    return rows[0]?.id ?? null;
  }

  async contactExists(contactId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query('SELECT 1 FROM contacts WHERE id = $1', [contactId]);
    return rows.length > 0;
  }

  async visitorsOfContact(contactId: string): Promise<VisitorLinkRow[]> {
    const rows: RawVisitor[] = await this.dataSource.query(
      'SELECT * FROM visitors WHERE contact_id = $1 ORDER BY linked_at, id',
      [contactId],
    );
    return rows.map(toVisitorRow);
  }

  async unlinkVisitor(visitorId: string): Promise<boolean> {
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH u AS (
         UPDATE visitors SET contact_id = NULL, link_status = NULL, linked_at = NULL
          WHERE id = $1 AND contact_id IS NOT NULL RETURNING 1
       ) SELECT count(*)::int AS n FROM u`,
      [visitorId],
    );
    return (rows[0]?.n ?? 0) > 0;
  }

  async conflictsPage(afterId: string | undefined, limit: number): Promise<ConflictRow[]> {
    return this.dataSource.query(
      `SELECT k.id, k.visitor_id, k.method, k.occurred_at, lc.external_id AS linked_contact, ac.external_id AS attempted_contact
         FROM identity_conflicts k
         LEFT JOIN contacts lc ON lc.id = k.linked_contact_id
         LEFT JOIN contacts ac ON ac.id = k.attempted_contact_id
        WHERE ($1::bigint IS NULL OR k.id < $1::bigint)
        ORDER BY k.id DESC
        LIMIT $2`,
      [afterId ?? null, limit],
    );
  }

  /** Deletes raw tracking rows older than `before`, a bounded batch at a time; returns how many went. */
  async deleteTrackingEventsBefore(before: Date, batchSize: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH d AS (
         DELETE FROM events WHERE id IN (
           SELECT id FROM events WHERE source = 'tracking' AND occurred_at < $1 LIMIT $2
         ) RETURNING 1
       ) SELECT count(*)::int AS n FROM d`,
      [before.toISOString(), batchSize],
    );
    return rows[0]?.n ?? 0;
  }
}

/**
 * The batch as JSON text. PostgreSQL refuses U+0000 and unpaired surrogates in jsonb (a
 * page title cut in the middle of an emoji by the site's own script, say), and one such
 * string would fail the whole batch again on every retry, so NULs are dropped and unpaired
 * surrogates become U+FFFD. `JSON.stringify` writes both as `\u` escapes, so the replacer
 * pass runs only when one may be present.
 */
export function eventsJson(events: TrackingEventRow[]): string {
  const json = JSON.stringify(events);
  if (!MAYBE_UNSTORABLE.test(json)) return json;
  return JSON.stringify(events, (_key, value: unknown) => (typeof value === 'string' ? toStorableText(value) : value));
}

/** `\u0000` or an escaped surrogate (JSON.stringify escapes only unpaired ones). */
const MAYBE_UNSTORABLE = /\\u(0000|d[89a-f])/i;

export interface ConflictRow {
  id: string;
  visitor_id: string;
  method: LinkStatus;
  occurred_at: Date;
  linked_contact: string | null;
  attempted_contact: string | null;
}

interface RawVisitor {
  id: string;
  contact_id: string | null;
  link_status: LinkStatus | null;
  linked_at: Date | null;
  first_seen_at: Date;
  last_seen_at: Date;
}

function toVisitorRow(r: RawVisitor): VisitorLinkRow {
  return {
    visitorId: r.id,
    contactId: r.contact_id,
    linkStatus: r.link_status,
    linkedAt: r.linked_at,
    firstSeenAt: r.first_seen_at,
    lastSeenAt: r.last_seen_at,
  };
}
