import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

export interface SeededContact {
  accountId: string;
  contactId: string;
}

/** Inserts an account and a contact straight into the database (tests only). */
export async function seedContact(
  dataSource: DataSource,
  ids: { account: string; contact: string; email: string },
): Promise<SeededContact> {
  const [account] = await dataSource.query<{ id: string }[]>(
    `INSERT INTO accounts (external_id, name) VALUES ($1, $1)
     ON CONFLICT (external_id) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
    [ids.account],
  );
  const [contact] = await dataSource.query<{ id: string }[]>(
    `INSERT INTO contacts (account_id, external_id, email, consent_basis) VALUES ($1, $2, $3, 'existing_relationship') RETURNING id`,
    [account!.id, ids.contact, ids.email],
  );
  return { accountId: account!.id, contactId: contact!.id };
}

/**
 * A sent message with its stored links, as the render step leaves it. Stored as `sent`: a
 * queued row would be claimed by a running send worker, re-rendered, and its links replaced.
 */
export async function seedMessage(
  dataSource: DataSource,
  to: SeededContact,
  options: { links: string[]; sentAt: Date; template?: string },
): Promise<string> {
  const id = randomUUID();
  await dataSource.query(
    `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, sent_at, status)
     VALUES ($1, $2, $3, $4, $5, 'ja', 'advertising', $6, 'sent')`,
    [
      id,
      `test:${id}`,
      to.contactId,
      to.accountId,
      options.template ?? 'onboarding/first-steps',
      options.sentAt.toISOString(),
    ],
  );
  for (const [index, url] of options.links.entries()) {
    await dataSource.query('INSERT INTO message_links (message_id, link_index, url) VALUES ($1, $2, $3)', [
      id,
      index,
      url,
    ]);
  }
  return id;
}
