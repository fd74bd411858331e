import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ACTIVE_HANDOFF_STATUSES_SQL } from '../../handoffs/handoff.types';
import type { JsonObject } from '../../common/json';
import type { NewEventRow } from '../../events/events.repository';
import { EventsRepository } from '../../events/events.repository';
import { queryRecipientContexts, type RecipientContext } from '../recipient-context.query';
import type { MessageKind, MessageStatus } from '../message.entity';

/** A messages row as the send pipeline reads it. */
export interface MessageRow {
  id: string;
  intentKey: string;
  contactId: string;
  accountId: string;
  template: string;
  locale: 'ja' | 'en';
  kind: MessageKind;
  topic: string | null;
  trackOpens: boolean;
  trackClicks: boolean;
  status: MessageStatus;
  dueAt: Date;
  expiresAt: Date | null;
  attempts: number;
  leaseToken: string | null;
  statusReason: string | null;
  data: JsonObject;
  createdAt: Date;
}

interface RawMessageRow {
  id: string;
  intent_key: string;
  contact_id: string;
  account_id: string;
  template: string;
  locale: 'ja' | 'en';
  kind: MessageKind;
  topic: string | null;
  track_opens: boolean;
  track_clicks: boolean;
  status: MessageStatus;
  due_at: Date;
  expires_at: Date | null;
  attempts: number;
  lease_token: string | null;
  status_reason: string | null;
  data: JsonObject;
  created_at: Date;
}

const COLUMNS = `id, intent_key, contact_id, account_id, template, locale, kind, topic, track_opens, track_clicks,
  status, due_at, expires_at, attempts, lease_token, status_reason, data, created_at`;

function toRow(r: RawMessageRow): MessageRow {
  return {
    id: r.id,
    intentKey: r.intent_key,
    contactId: r.contact_id,
    accountId: r.account_id,
    template: r.template,
    locale: r.locale,
    kind: r.kind,
    topic: r.topic,
    trackOpens: r.track_opens,
    trackClicks: r.track_clicks,
    status: r.status,
    dueAt: new Date(r.due_at),
    expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
    attempts: r.attempts,
    leaseToken: r.lease_token,
    statusReason: r.status_reason,
    data: r.data,
    createdAt: new Date(r.created_at),
  };
}

export type NewMessage = Pick<
  MessageRow,
  | 'id'
  | 'intentKey'
  | 'contactId'
  | 'accountId'
  | 'template'
  | 'locale'
  | 'kind'
  | 'topic'
  | 'data'
  | 'dueAt'
  | 'expiresAt'
  | 'createdAt'
> & {
  /** False: advertising mail that goes out even while the account has an open handoff. */
  holdDuringHandoff?: boolean;
};

/** Columns a fenced write may set. */
export interface MessageChanges {
  status?: MessageStatus;
  dueAt?: Date;
  statusReason?: string | null;
  sentAt?: Date;
  /** Attempts as they were before one that never reached the provider (a 429, a lease run out). */
  attempts?: number;
  updatedAt: Date;
}

export interface OutboxListRow {
  id: string;
  contactExternalId: string;
  subject: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

/** status_reason of a message handed to the transport whose outcome is not yet recorded. */
export const IN_FLIGHT_REASON = 'in_flight';

export interface InFlightMark {
  message: { id: string; leaseToken: string };
  /** The address the attempt goes to. */
  recipient: string;
  subject: string;
  locale: 'ja' | 'en';
  messageIdHeader: string;
  transport: string;
  trackOpens: boolean;
  trackClicks: boolean;
  links: string[];
}

export interface SentRecord {
  message: { id: string; leaseToken: string };
  providerMessageId: string | null;
  eventKey: string;
  eventProps: JsonObject;
}

/** Rows an UPDATE ... RETURNING touched (TypeORM answers `[rows, count]` for UPDATE on PostgreSQL). */
function updatedRows(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) return (result[0] as unknown[]).length;
  return Array.isArray(result) ? result.length : 0;
}

/** Statuses of mail that went out: they count toward frequency caps. */
const SENT_STATUSES: MessageStatus[] = ['sent', 'deferred', 'delivered', 'bounced', 'complained'];

/** Advertising send times (newest first) by contact and by account. */
export interface AdvertisingHistory {
  byContact: Map<string, Date[]>;
  byAccount: Map<string, Date[]>;
}

/** All SQL of the send pipeline. Every write after a claim is fenced by the lease token. */
@Injectable()
export class SendRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly events: EventsRepository,
  ) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  async findByIntentKey(manager: EntityManager, intentKey: string): Promise<MessageRow | undefined> {
    const rows: RawMessageRow[] = await manager.query(`SELECT ${COLUMNS} FROM messages WHERE intent_key = $1`, [
      intentKey,
    ]);
    return rows[0] && toRow(rows[0]);
  }

  /** Inserts the message unless its intent key was seen; returns the stored row and whether it is new. */
  async insertMessage(manager: EntityManager, m: NewMessage): Promise<{ message: MessageRow; created: boolean }> {
    return (await this.insertMessages(manager, [m])).get(m.intentKey)!;
  }

  /**
   * Inserts messages in one statement (a scenario batch); a message whose intent key was seen
   * is not inserted again. Returns, for every intent key, the stored row and whether it is new.
   */
  async insertMessages(
    manager: EntityManager,
    messages: readonly NewMessage[],
  ): Promise<Map<string, { message: MessageRow; created: boolean }>> {
    if (messages.length === 0) return new Map();
    const rows = messages.map((m) => ({
      id: m.id,
      intent_key: m.intentKey,
      contact_id: m.contactId,
      account_id: m.accountId,
      template: m.template,
      locale: m.locale,
      kind: m.kind,
      topic: m.topic,
      data: m.data,
      due_at: m.dueAt.toISOString(),
      expires_at: m.expiresAt?.toISOString() ?? null,
      created_at: m.createdAt.toISOString(),
      hold_during_handoff: m.holdDuringHandoff ?? true,
    }));
    const inserted: RawMessageRow[] = await manager.query(
      `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, topic, data, due_at, expires_at,
                             created_at, status, hold_during_handoff)
       SELECT r.id, r.intent_key, r.contact_id, r.account_id, r.template, r.locale, r.kind, r.topic, r.data, r.due_at,
              r.expires_at, r.created_at, 'queued', r.hold_during_handoff
         FROM json_to_recordset($1::json) AS r(id uuid, intent_key text, contact_id uuid, account_id uuid, template text,
                                              locale text, kind text, topic text, data jsonb, due_at timestamptz,
                                              expires_at timestamptz, created_at timestamptz, hold_during_handoff boolean)
       ON CONFLICT ON CONSTRAINT uq_messages_intent_key DO NOTHING
       RETURNING ${COLUMNS}`,
      [JSON.stringify(rows)],
    );
    const stored = new Map(inserted.map((r) => [r.intent_key, { message: toRow(r), created: true }]));
    const seen = messages.map((m) => m.intentKey).filter((k) => !stored.has(k));
    if (seen.length > 0) {
      const existing: RawMessageRow[] = await manager.query(
        `SELECT ${COLUMNS} FROM messages WHERE intent_key = ANY($1::text[])`,
        [seen],
      );
      for (const r of existing) stored.set(r.intent_key, { message: toRow(r), created: false });
    }
    const lost = messages.find((m) => !stored.has(m.intentKey));
    if (lost) throw new Error(`Intent key conflict without a stored message: ${lost.intentKey}`);
    return stored;
  }

  async contactIdByExternalId(externalId: string): Promise<string | undefined> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM contacts WHERE external_id = $1`, [
      externalId,
    ]);
    return rows[0]?.id;
  }

  async recipientContext(manager: EntityManager, contactId: string): Promise<RecipientContext | undefined> {
    return (await this.recipientContexts(manager, [contactId])).get(contactId);
  }

  /** Recipient contexts of many contacts in one query (a claimed batch), by contact id. */
  async recipientContexts(
    manager: EntityManager,
    contactIds: readonly string[],
  ): Promise<Map<string, RecipientContext>> {
    const contexts = await queryRecipientContexts(manager, 'id', contactIds);
    return new Map(contexts.map((c) => [c.recipient.contactId, c]));
  }

  /**
   * Claims up to `limit` due queued messages for this worker in ONE statement
   * (`FOR UPDATE SKIP LOCKED`: concurrent workers get disjoint rows), each with a fresh lease token.
   */
  async claimDue(now: Date, limit: number, leaseMs: number): Promise<MessageRow[]> {
    const result: unknown = await this.dataSource.query(
      `UPDATE messages m
       SET status = 'sending', lease_token = gen_random_uuid(), lease_expires_at = $2, updated_at = $1
       FROM (SELECT id FROM messages WHERE status = 'queued' AND due_at <= $1
             ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
       WHERE m.id = due.id
       RETURNING ${COLUMNS.split(',')
         .map((c) => `m.${c.trim()}`)
         .join(', ')}`,
      [now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), limit],
    );
    const rows = (
      Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) ? result[0] : result
    ) as RawMessageRow[];
    return rows.map(toRow).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  /**
   * Extends to `until` the leases still held by these tokens (status `sending`, same token)
   * and returns the ids it extended. A row locked at that moment is skipped, not waited for:
   * the worker itself may be writing its outcome (waiting could deadlock with that write), and
   * the lease keeps its current expiry until the next renewal.
   */
  async extendLeases(held: readonly { id: string; leaseToken: string }[], until: Date): Promise<Set<string>> {
    if (held.length === 0) return new Set();
    const result: unknown = await this.dataSource.query(
      `UPDATE messages m SET lease_expires_at = GREATEST(m.lease_expires_at, $3)
         FROM (SELECT messages.id FROM messages
                 JOIN unnest($1::uuid[], $2::uuid[]) AS h(id, lease_token)
                   ON messages.id = h.id AND messages.lease_token = h.lease_token
                WHERE messages.status = 'sending'
                  FOR UPDATE OF messages SKIP LOCKED) held
        WHERE m.id = held.id
       RETURNING m.id`,
      [held.map((h) => h.id), held.map((h) => h.leaseToken), until.toISOString()],
    );
    const rows = (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) ? result[0] : result) as {
      id: string;
    }[];
    return new Set(rows.map((r) => r.id));
  }

  /** Sets kind and topic of messages still held by these lease tokens (their template changed). */
  async updateTraits(
    items: readonly { id: string; leaseToken: string; kind: MessageKind; topic: string | null }[],
  ): Promise<void> {
    await this.dataSource.query(
      `UPDATE messages m SET kind = t.kind, topic = t.topic
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS t(id, lease_token, kind, topic)
        WHERE m.id = t.id AND m.lease_token = t.lease_token AND m.status = 'sending'`,
      [items.map((i) => i.id), items.map((i) => i.leaseToken), items.map((i) => i.kind), items.map((i) => i.topic)],
    );
  }

  /**
   * Returns messages whose lease expired to the queue. The `in_flight` marker (an attempt was
   * handed to the transport and never recorded) is kept, so the next worker checks before sending.
   */
  async reclaimExpired(now: Date): Promise<number> {
    const result: unknown = await this.dataSource.query(
      `UPDATE messages SET status = 'queued', lease_token = NULL, lease_expires_at = NULL, due_at = $1, updated_at = $1
       WHERE status = 'sending' AND lease_expires_at < $1 RETURNING id`,
      [now.toISOString()],
    );
    return updatedRows(result);
  }

  /**
   * Applies `changes` only while `leaseToken` still holds the message (status sending);
   * leaves the lease in place when the status stays `sending`, clears it otherwise.
   * Returns false (nothing written) for a stale token. Optional events are written by the
   * same statement (a data-modifying CTE that only acts when the fenced UPDATE matched),
   * so each fenced write is one atomic round trip.
   */
  async fencedUpdate(
    message: { id: string; leaseToken: string },
    changes: MessageChanges,
    extra: { events?: NewEventRow[] } = {},
  ): Promise<boolean> {
    const sets: string[] = [];
    const params: unknown[] = [message.id, message.leaseToken];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const set = (column: string, value: unknown) => sets.push(`${column} = ${param(value)}`);
    if (changes.status !== undefined) {
      set('status', changes.status);
      if (changes.status !== 'sending') sets.push('lease_token = NULL', 'lease_expires_at = NULL');
    }
    if (changes.dueAt !== undefined) set('due_at', changes.dueAt.toISOString());
    if (changes.statusReason !== undefined) set('status_reason', changes.statusReason);
    if (changes.sentAt !== undefined) set('sent_at', changes.sentAt.toISOString());
    if (changes.attempts !== undefined) set('attempts', changes.attempts);
    set('updated_at', changes.updatedAt.toISOString());
    const ctes = [
      `m AS (UPDATE messages SET ${sets.join(', ')}
             WHERE id = $1 AND lease_token = $2 AND status = 'sending' RETURNING id)`,
    ];
    if (extra.events && extra.events.length > 0) {
      const e = extra.events;
      const cols = [
        param(e.map((r) => r.type)),
        param(e.map((r) => r.occurredAt.toISOString())),
        param(e.map((r) => r.receivedAt.toISOString())),
        param(e.map((r) => r.accountId)),
        param(e.map((r) => r.contactId)),
        param(e.map((r) => r.visitorId)),
        param(e.map((r) => r.source)),
        param(e.map((r) => r.idempotencyKey)),
        param(e.map((r) => JSON.stringify(r.props))),
      ];
      const types = ['text', 'timestamptz', 'timestamptz', 'uuid', 'uuid', 'text', 'text', 'text', 'jsonb'];
      ctes.push(
        `events_added AS (INSERT INTO events (type, occurred_at, received_at, account_id, contact_id, visitor_id, source, idempotency_key, props)
                          SELECT u.* FROM m, unnest(${cols.map((c, i) => `${c}::${types[i]}[]`).join(', ')})
                            AS u(type, occurred_at, received_at, account_id, contact_id, visitor_id, source, idempotency_key, props)
                          ON CONFLICT ON CONSTRAINT uq_events_source_idempotency_key DO NOTHING)`,
      );
    }
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH ${ctes.join(',\n')} SELECT count(*)::int AS n FROM m`,
      params,
    );
    return rows[0]?.n === 1;
  }

  /**
   * Marks many claimed messages as handed to the transport (attempt counted, `in_flight`,
   * render results and links stored), each fenced by its lease token, in one statement.
   * Returns, per item in order, whether its fenced update matched.
   */
  async markInFlightMany(
    items: readonly InFlightMark[],
    now: Date,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<boolean[]> {
    if (items.length === 0) return [];
    const links = items.flatMap((item) => item.links.map((url, index) => ({ id: item.message.id, index, url })));
    const rows: { id: string }[] = await manager.query(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::boolean[], $9::int[], $15::text[])
           AS i(id, lease_token, subject, locale, message_id_header, transport, track_opens, track_clicks, link_count, recipient)
       ),
       m AS (
         UPDATE messages SET attempts = messages.attempts + 1, status_reason = $14, subject = i.subject, recipient = i.recipient,
           locale = i.locale, message_id_header = i.message_id_header, transport = i.transport,
           track_opens = i.track_opens, track_clicks = i.track_clicks, updated_at = $13
         FROM input i
         WHERE messages.id = i.id AND messages.lease_token = i.lease_token AND messages.status = 'sending'
         RETURNING messages.id
       ),
       links AS (
         INSERT INTO message_links (message_id, link_index, url)
         SELECT l.message_id, l.link_index, l.url
         FROM unnest($10::uuid[], $11::int[], $12::text[]) AS l(message_id, link_index, url) JOIN m ON m.id = l.message_id
         ON CONFLICT ON CONSTRAINT pk_message_links DO UPDATE SET url = EXCLUDED.url
       ),
       trimmed AS (
         DELETE FROM message_links ml USING m JOIN input i ON i.id = m.id
         WHERE ml.message_id = m.id AND ml.link_index >= i.link_count
       )
       SELECT id FROM m`,
      [
        items.map((i) => i.message.id),
        items.map((i) => i.message.leaseToken),
        items.map((i) => i.subject),
        items.map((i) => i.locale),
        items.map((i) => i.messageIdHeader),
        items.map((i) => i.transport),
        items.map((i) => i.trackOpens),
        items.map((i) => i.trackClicks),
        items.map((i) => i.links.length),
        links.map((l) => l.id),
        links.map((l) => l.index),
        links.map((l) => l.url),
        now.toISOString(),
        IN_FLIGHT_REASON,
        items.map((i) => i.recipient),
      ],
    );
    const matched = new Set(rows.map((r) => r.id));
    return items.map((i) => matched.has(i.message.id));
  }

  /**
   * Records many messages the transport accepted (`sent`, lease cleared) with their
   * `email.sent` events, each fenced by its lease token, in one statement. A provider
   * event may have moved the status on already (`delivered` can arrive before a slow
   * chunk-mate lets the worker record its batch): the status is then kept, and the send
   * time, provider id and event are still written.
   */
  async recordSentMany(items: readonly SentRecord[], now: Date): Promise<boolean[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[])
           AS i(id, lease_token, provider_message_id, event_key, event_props)
       ),
       m AS (
         UPDATE messages SET
           status = CASE WHEN messages.status = 'sending' THEN 'sent' ELSE messages.status END,
           status_reason = CASE WHEN messages.status = 'sending' THEN NULL ELSE messages.status_reason END,
           sent_at = $6, lease_token = NULL, lease_expires_at = NULL,
           provider_message_id = COALESCE(i.provider_message_id, messages.provider_message_id), updated_at = $6
         FROM input i
         WHERE messages.id = i.id AND messages.lease_token = i.lease_token
           AND messages.status IN ('sending', 'sent', 'deferred', 'delivered', 'bounced', 'complained')
         RETURNING messages.id, messages.account_id, messages.contact_id
       ),
       events_added AS (
         INSERT INTO events (type, occurred_at, received_at, account_id, contact_id, source, idempotency_key, props)
         SELECT 'email.sent', $6, $6, m.account_id, m.contact_id, 'system', i.event_key, i.event_props
         FROM m JOIN input i ON i.id = m.id
         ON CONFLICT ON CONSTRAINT uq_events_source_idempotency_key DO NOTHING
       )
       SELECT id FROM m`,
      [
        items.map((i) => i.message.id),
        items.map((i) => i.message.leaseToken),
        items.map((i) => i.providerMessageId),
        items.map((i) => i.eventKey),
        items.map((i) => JSON.stringify(i.eventProps)),
        now.toISOString(),
      ],
    );
    const matched = new Set(rows.map((r) => r.id));
    return items.map((i) => matched.has(i.message.id));
  }

  /**
   * Send times (newest first) of advertising mail that went out since `since` to any of
   * these contacts, and to any of these accounts: the frequency caps of a claimed batch,
   * read in one query.
   */
  async advertisingHistory(
    contactIds: readonly string[],
    accountIds: readonly string[],
    since: Date,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<AdvertisingHistory> {
    // What went out, and what may have: an attempt in flight now (another worker's send) and
    // an attempt whose outcome is unknown count toward the caps, at the time they were made.
    const rows: { contact_id: string; account_id: string; at: Date }[] = await manager.query(
      `SELECT contact_id, account_id, COALESCE(sent_at, updated_at) AS at FROM messages
       WHERE kind = 'advertising'
         AND (contact_id = ANY($3::uuid[]) OR account_id = ANY($4::uuid[]))
         AND ((status = ANY($1::text[]) AND sent_at > $2)
              OR (status = 'unknown' AND sent_at IS NULL AND updated_at > $2)
              OR (status = 'sending' AND status_reason = $5))
       ORDER BY at DESC`,
      [SENT_STATUSES, since.toISOString(), [...new Set(contactIds)], [...new Set(accountIds)], IN_FLIGHT_REASON],
    );
    const byContact = new Map<string, Date[]>();
    const byAccount = new Map<string, Date[]>();
    const push = (map: Map<string, Date[]>, key: string, at: Date) => {
      const list = map.get(key);
      if (list) list.push(at);
      else map.set(key, [at]);
    };
    for (const r of rows) {
      const at = new Date(r.at);
      push(byContact, r.contact_id, at);
      push(byAccount, r.account_id, at);
    }
    return { byContact, byAccount };
  }

  /**
   * Runs `work` in a transaction holding the caps lock of each of these accounts (a
   * transaction-scoped advisory lock, taken in a fixed order): every worker decides the
   * frequency caps of an account and marks the attempts in flight under it, so two
   * instances cannot both take the last slot. Every contact belongs to one account, so the
   * account's lock covers its contacts' caps too.
   */
  withCapsLock<T>(accountIds: readonly string[], work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(
        `SELECT pg_advisory_xact_lock(hashtextextended('tend.caps:' || a, 0))
           FROM (SELECT DISTINCT a FROM unnest($1::text[]) AS u(a) ORDER BY a) s`,
        [[...accountIds]],
      );
      return work(manager);
    });
  }

  /**
   * Which of these advertising messages must wait: their account's tech-touch mail is
   * paused by a CSM (until `pausedUntil`), or it has an open or acknowledged handoff that
   * holds mail and the message does not declare it must reach the customer anyway. One
   * query for a claimed batch.
   */
  async heldMessages(
    messageIds: readonly string[],
    now: Date,
  ): Promise<Map<string, { reason: 'tech_touch_paused' | 'handoff_hold'; pausedUntil: Date | null }>> {
    const held = new Map<string, { reason: 'tech_touch_paused' | 'handoff_hold'; pausedUntil: Date | null }>();
    if (messageIds.length === 0) return held;
    const rows: { id: string; paused_until: Date | null }[] = await this.dataSource.query(
      `SELECT m.id, CASE WHEN a.tech_touch_paused_until > $2 THEN a.tech_touch_paused_until END AS paused_until
         FROM messages m JOIN accounts a ON a.id = m.account_id
        WHERE m.id = ANY($1::uuid[]) AND m.kind = 'advertising'
          AND (a.tech_touch_paused_until > $2
               OR (m.hold_during_handoff AND EXISTS (
                     SELECT 1 FROM handoffs h WHERE h.account_id = m.account_id
                        AND h.status IN (${ACTIVE_HANDOFF_STATUSES_SQL}) AND h.holds_mail)))`,
      [messageIds, now.toISOString()],
    );
    for (const r of rows) {
      held.set(
        r.id,
        r.paused_until === null
          ? { reason: 'handoff_hold', pausedUntil: null }
          : { reason: 'tech_touch_paused', pausedUntil: new Date(r.paused_until) },
      );
    }
    return held;
  }

  async recentOutbox(limit: number): Promise<OutboxListRow[]> {
    const rows: { id: string; external_id: string; subject: string | null; created_at: Date; sent_at: Date | null }[] =
      await this.dataSource.query(
        `SELECT m.id, c.external_id, m.subject, m.created_at, m.sent_at FROM messages m
         JOIN contacts c ON c.id = m.contact_id
         WHERE m.transport = 'outbox' AND m.sent_at IS NOT NULL
         ORDER BY m.sent_at DESC, m.id LIMIT $1`,
        [limit],
      );
    return rows.map((r) => ({
      id: r.id,
      contactExternalId: r.external_id,
      subject: r.subject,
      createdAt: new Date(r.created_at),
      sentAt: r.sent_at === null ? null : new Date(r.sent_at),
    }));
  }
}
