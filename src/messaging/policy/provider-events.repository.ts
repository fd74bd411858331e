import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { JsonObject } from '../../common/json';
import { MESSAGE_STATUS_RANK, type MessageStatus } from '../message.entity';

export interface NewProviderEvent {
  providerEventId: string;
  provider: string;
  messageId: string | null;
  event: string;
  occurredAt: Date;
  receivedAt: Date;
  payload: JsonObject;
}

export interface MatchedMessage {
  id: string;
  contactId: string;
  accountId: string;
  providerMessageId: string | null;
  email: string;
}

export interface StatusAdvance {
  messageId: string;
  status: MessageStatus;
  reason: string | null;
  /** When a `delivered` event says it was delivered (kept only if none is set). */
  deliveredAt: Date | null;
}

/** SQL CASE giving a status its rank, from MESSAGE_STATUS_RANK (the one source of the order). */
const RANK_OF_STATUS = `CASE m.status ${Object.entries(MESSAGE_STATUS_RANK)
  .map(([status, rank]) => `WHEN '${status}' THEN ${rank}`)
  .join(' ')} ELSE 0 END`;

/** Provider webhook events and the message state they move. */
@Injectable()
export class ProviderEventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** Our messages named by id or by provider message id, with their contact's address. */
  async matchMessages(
    manager: EntityManager,
    messageIds: readonly string[],
    providerMessageIds: readonly string[],
  ): Promise<MatchedMessage[]> {
    if (messageIds.length === 0 && providerMessageIds.length === 0) return [];
    const rows: {
      id: string;
      contact_id: string;
      account_id: string;
      provider_message_id: string | null;
      email: string;
    }[] = await manager.query(
      `SELECT m.id, m.contact_id, m.account_id, m.provider_message_id, c.email
       FROM messages m JOIN contacts c ON c.id = m.contact_id
       WHERE m.id = ANY($1::uuid[]) OR m.provider_message_id = ANY($2::text[])`,
      [[...messageIds], [...providerMessageIds]],
    );
    return rows.map((r) => ({
      id: r.id,
      contactId: r.contact_id,
      accountId: r.account_id,
      providerMessageId: r.provider_message_id,
      email: r.email,
    }));
  }

  /** Stores events once per provider event id; returns the ids actually inserted (new events). */
  async insertEvents(manager: EntityManager, rows: readonly NewProviderEvent[]): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const sorted = [...rows].sort((a, b) =>
      a.providerEventId < b.providerEventId ? -1 : a.providerEventId > b.providerEventId ? 1 : 0,
    );
    const inserted: { provider_event_id: string }[] = await manager.query(
      `INSERT INTO provider_events (provider_event_id, provider, message_id, event, occurred_at, received_at, payload)
       SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::jsonb[])
       ON CONFLICT (provider_event_id) DO NOTHING
       RETURNING provider_event_id`,
      [
        sorted.map((r) => r.providerEventId),
        sorted.map((r) => r.provider),
        sorted.map((r) => r.messageId),
        sorted.map((r) => r.event),
        sorted.map((r) => r.occurredAt.toISOString()),
        sorted.map((r) => r.receivedAt.toISOString()),
        sorted.map((r) => JSON.stringify(r.payload)),
      ],
    );
    return new Set(inserted.map((r) => r.provider_event_id));
  }

  /**
   * Moves each message to its new status only when that ranks higher than the
   * current one (a late `delivered` never undoes `bounced`); `delivered_at` is
   * filled when first known. One statement; one entry per message.
   */
  async advanceStatuses(manager: EntityManager, updates: readonly StatusAdvance[], now: Date): Promise<void> {
    if (updates.length === 0) return;
    const sorted = [...updates].sort((a, b) => (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0));
    await manager.query(
      `UPDATE messages m SET
         status = CASE WHEN ${RANK_OF_STATUS} < u.rank THEN u.status ELSE m.status END,
         status_reason = CASE WHEN ${RANK_OF_STATUS} < u.rank THEN u.reason ELSE m.status_reason END,
         delivered_at = COALESCE(m.delivered_at, u.delivered_at),
         -- The provider took it: a webhook may beat the sender's own record (which then
         -- writes the exact send time); until then the send counts from now, for the caps.
         sent_at = CASE WHEN m.sent_at IS NULL AND u.status IN ('sent', 'deferred', 'delivered', 'bounced', 'complained')
                        THEN $6::timestamptz ELSE m.sent_at END,
         updated_at = $6
       FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::timestamptz[]) AS u(id, status, rank, reason, delivered_at)
       WHERE m.id = u.id AND (${RANK_OF_STATUS} < u.rank OR (m.delivered_at IS NULL AND u.delivered_at IS NOT NULL))`,
      [
        sorted.map((u) => u.messageId),
        sorted.map((u) => u.status),
        sorted.map((u) => MESSAGE_STATUS_RANK[u.status]),
        sorted.map((u) => u.reason),
        sorted.map((u) => u.deliveredAt?.toISOString() ?? null),
        now.toISOString(),
      ],
    );
  }
}
