import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { ConsentBasis, ContactStatus } from '../../contacts/contact.entity';
import type { Locale } from '../messaging.contracts';
import type { SuppressionReason } from '../suppression.entity';
import type { RecipientFacts } from './recipient-policy.util';

/** The contact behind an unsubscribe token's message. */
export interface UnsubscribeTarget {
  messageId: string;
  contactId: string;
  accountId: string;
  email: string;
  contactLocale: Locale | null;
  accountLocale: Locale | null;
}

export interface SuppressionRow {
  email: string;
  reason: SuppressionReason;
  source: string;
  note: string | null;
  createdAt: Date;
}

interface RawSuppression {
  email: string;
  reason: SuppressionReason;
  source: string;
  note: string | null;
  created_at: Date;
}

const toSuppression = (r: RawSuppression): SuppressionRow => ({
  email: r.email,
  reason: r.reason,
  source: r.source,
  note: r.note,
  createdAt: r.created_at,
});

/** Suppressions, contact preferences and the recipient facts of the policy: the only place their SQL lives. */
@Injectable()
export class PolicyRepository {
  constructor(private readonly dataSource: DataSource) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** recipientFacts of many (contact, topic) pairs in one query, in the order asked. */
  async recipientFactsMany(
    manager: EntityManager,
    items: readonly { contactId: string; topic: string | null }[],
  ): Promise<(RecipientFacts | null)[]> {
    const rows: {
      ord: string;
      status: ContactStatus;
      consent_basis: ConsentBasis | null;
      suppression: SuppressionReason | null;
      topic_subscribed: boolean | null;
    }[] = await manager.query(
      `SELECT i.ord, c.status, c.consent_basis, s.reason AS suppression,
              (SELECT p.subscribed FROM contact_preferences p WHERE p.contact_id = c.id AND p.topic = i.topic) AS topic_subscribed
       FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS i(contact_id, topic, ord)
       JOIN contacts c ON c.id = i.contact_id
       LEFT JOIN suppressions s ON s.email = lower(btrim(c.email))`,
      [items.map((i) => i.contactId), items.map((i) => i.topic)],
    );
    const facts = new Array<RecipientFacts | null>(items.length).fill(null);
    for (const row of rows) {
      facts[Number(row.ord) - 1] = {
        status: row.status,
        consentBasis: row.consent_basis,
        suppression: row.suppression,
        topicSubscribed: row.topic_subscribed,
      };
    }
    return facts;
  }

  /** Status, consent, suppression of the normalised address and topic choice of one contact. */
  async recipientFacts(
    manager: EntityManager,
    contactId: string,
    topic: string | null,
  ): Promise<RecipientFacts | null> {
    const [facts] = await this.recipientFactsMany(manager, [{ contactId, topic }]);
    return facts ?? null;
  }

  async unsubscribeTarget(messageId: string): Promise<UnsubscribeTarget | null> {
    const rows: {
      contact_id: string;
      account_id: string;
      email: string;
      contact_locale: Locale | null;
      account_locale: Locale | null;
    }[] = await this.dataSource.query(
      // The mailbox the mail went to; the contact's address for mail sent before it was recorded.
      `SELECT m.contact_id, m.account_id, COALESCE(m.recipient, c.email) AS email, c.locale AS contact_locale, a.locale AS account_locale
       FROM messages m JOIN contacts c ON c.id = m.contact_id JOIN accounts a ON a.id = c.account_id
       WHERE m.id = $1`,
      [messageId],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      messageId,
      contactId: row.contact_id,
      accountId: row.account_id,
      email: row.email,
      contactLocale: row.contact_locale,
      accountLocale: row.account_locale,
    };
  }

  /** Adds an address unless it is already suppressed (the first entry is kept); true when added. */
  async addSuppression(
    manager: EntityManager,
    row: { email: string; reason: SuppressionReason; source: string; note: string | null; createdAt: Date },
  ): Promise<boolean> {
    const inserted: unknown[] = await manager.query(
      `INSERT INTO suppressions (email, reason, source, note, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (email) DO NOTHING RETURNING email`,
      [row.email, row.reason, row.source, row.note, row.createdAt.toISOString()],
    );
    return inserted.length > 0;
  }

  /**
   * Adds many addresses in one statement. An existing entry is kept, except that a
   * hard bounce replaces a weaker reason (it also stops operational mail).
   * Emails must be distinct.
   */
  async addSuppressions(
    manager: EntityManager,
    rows: readonly { email: string; reason: SuppressionReason }[],
    source: string,
    now: Date,
  ): Promise<void> {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
    await manager.query(
      `INSERT INTO suppressions (email, reason, source, note, created_at)
       SELECT u.email, u.reason, $3, NULL, $4 FROM unnest($1::text[], $2::text[]) AS u(email, reason)
       ON CONFLICT (email) DO UPDATE SET reason = EXCLUDED.reason, source = EXCLUDED.source, created_at = EXCLUDED.created_at
       WHERE EXCLUDED.reason = 'hard_bounce' AND suppressions.reason <> 'hard_bounce'`,
      [sorted.map((r) => r.email), sorted.map((r) => r.reason), source, now.toISOString()],
    );
  }

  async findSuppression(email: string, manager: EntityManager = this.manager): Promise<SuppressionRow | null> {
    const rows: RawSuppression[] = await manager.query(
      `SELECT email, reason, source, note, created_at FROM suppressions WHERE email = $1`,
      [email],
    );
    return rows[0] === undefined ? null : toSuppression(rows[0]);
  }

  /** Keyset page ordered by address; returns up to `limit` rows after `after`. */
  async suppressionsPage(after: string | undefined, limit: number): Promise<SuppressionRow[]> {
    const rows: RawSuppression[] = await this.dataSource.query(
      `SELECT email, reason, source, note, created_at FROM suppressions
       WHERE $1::text IS NULL OR email > $1 ORDER BY email LIMIT $2`,
      [after ?? null, limit],
    );
    return rows.map(toSuppression);
  }

  async removeSuppression(email: string): Promise<boolean> {
    const removed: unknown[] = await this.dataSource.query(
      // A CTE: TypeORM answers a bare DELETE with [rows, count], not the rows.
      `WITH removed AS (DELETE FROM suppressions WHERE email = $1 RETURNING email) SELECT email FROM removed`,
      [email],
    );
    return removed.length > 0;
  }

  /** Marks contacts with these addresses bounced (hard bounce). */
  async markContactsBounced(manager: EntityManager, emails: readonly string[]): Promise<void> {
    if (emails.length === 0) return;
    await manager.query(
      `UPDATE contacts SET status = 'bounced', updated_at = now() WHERE email = ANY($1::text[]) AND status <> 'bounced'`,
      [[...emails]],
    );
  }

  /** Topics of the contact's own messages and the stored choices. */
  async topicsOfContact(contactId: string): Promise<{ messageTopics: string[]; choices: Map<string, boolean> }> {
    const rows: { topic: string; subscribed: boolean | null }[] = await this.dataSource.query(
      `SELECT topic, bool_and(subscribed) AS subscribed FROM (
         SELECT DISTINCT topic, NULL::boolean AS subscribed FROM messages WHERE contact_id = $1 AND topic IS NOT NULL
         UNION ALL
         SELECT topic, subscribed FROM contact_preferences WHERE contact_id = $1
       ) t GROUP BY topic ORDER BY topic`,
      [contactId],
    );
    const choices = new Map<string, boolean>();
    for (const r of rows) if (r.subscribed !== null) choices.set(r.topic, r.subscribed);
    return { messageTopics: rows.map((r) => r.topic), choices };
  }

  /** Upserts the contact's choice for each topic; returns the topics whose choice changed. */
  async savePreferences(
    manager: EntityManager,
    contactId: string,
    choices: readonly { topic: string; subscribed: boolean }[],
    now: Date,
  ): Promise<string[]> {
    if (choices.length === 0) return [];
    const changed: { topic: string }[] = await manager.query(
      `INSERT INTO contact_preferences (contact_id, topic, subscribed, updated_at)
       SELECT $1, u.topic, u.subscribed, $4 FROM unnest($2::text[], $3::boolean[]) AS u(topic, subscribed)
       ON CONFLICT (contact_id, topic) DO UPDATE SET subscribed = EXCLUDED.subscribed, updated_at = EXCLUDED.updated_at
       WHERE contact_preferences.subscribed <> EXCLUDED.subscribed
       RETURNING topic`,
      [contactId, choices.map((c) => c.topic), choices.map((c) => c.subscribed), now.toISOString()],
    );
    return changed.map((r) => r.topic);
  }
}
