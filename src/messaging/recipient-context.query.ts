import type { EntityManager } from 'typeorm';
import type { RenderAccount, RenderRecipient } from './messaging.contracts';

/** The recipient and account of a message, as the renderer wants them. */
export interface RecipientContext {
  recipient: Omit<RenderRecipient, 'timeZone'>;
  account: RenderAccount;
  contactLocale: 'ja' | 'en' | null;
  accountLocale: 'ja' | 'en' | null;
  contactTimeZone: string | null;
  accountTimeZone: string | null;
  /** The contact's email tracking consent; null follows EMAIL_TRACKING_DEFAULT. */
  emailTracking: 'full' | 'clicks' | 'none' | null;
}

/**
 * Contacts with their accounts as the renderer wants them, in one query, looked up by contact
 * id (the send worker's batch) or by external id (the admin API's previews).
 */
export async function queryRecipientContexts(
  manager: EntityManager,
  key: 'id' | 'external_id',
  keys: readonly string[],
): Promise<RecipientContext[]> {
  const rows: {
    contact_id: string;
    contact_external_id: string;
    contact_name: string | null;
    email: string;
    roles: string[];
    contact_attributes: Record<string, string | number | boolean | null>;
    contact_locale: 'ja' | 'en' | null;
    contact_time_zone: string | null;
    email_tracking: 'full' | 'clicks' | 'none' | null;
    account_id: string;
    account_external_id: string;
    account_name: string;
    plan: string | null;
    renewal_date: string | null;
    account_attributes: Record<string, string | number | boolean | null>;
    account_locale: 'ja' | 'en' | null;
    account_time_zone: string | null;
  }[] = await manager.query(
    `SELECT c.id AS contact_id, c.external_id AS contact_external_id, c.name AS contact_name, c.email, c.roles,
              c.attributes AS contact_attributes, c.locale AS contact_locale, c.time_zone AS contact_time_zone,
              c.email_tracking,
              a.id AS account_id, a.external_id AS account_external_id, a.name AS account_name, a.plan,
              a.renewal_date::text AS renewal_date, a.attributes AS account_attributes, a.locale AS account_locale,
              a.time_zone AS account_time_zone
       FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.${key} = ANY($1::${key === 'id' ? 'uuid' : 'text'}[])`,
    [[...new Set(keys)]],
  );
  const contexts: RecipientContext[] = [];
  for (const r of rows) {
    contexts.push({
      recipient: {
        contactId: r.contact_id,
        externalId: r.contact_external_id,
        name: r.contact_name,
        email: r.email,
        roles: r.roles,
        attributes: r.contact_attributes,
      },
      account: {
        accountId: r.account_id,
        externalId: r.account_external_id,
        name: r.account_name,
        plan: r.plan,
        renewalDate: r.renewal_date,
        attributes: r.account_attributes,
      },
      contactLocale: r.contact_locale,
      accountLocale: r.account_locale,
      contactTimeZone: r.contact_time_zone,
      accountTimeZone: r.account_time_zone,
      emailTracking: r.email_tracking,
    });
  }
  return contexts;
}
