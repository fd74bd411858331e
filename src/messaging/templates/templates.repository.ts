import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Attributes } from '../../common/json';
import type { Locale, RenderAccount, RenderRecipient } from '../messaging.contracts';

/**
 * A real contact and its account as a preview renders them. The email address is
 * deliberately not read: templates never show it, and a preview has no need for it.
 */
export interface PreviewContact {
  recipient: Omit<RenderRecipient, 'email' | 'timeZone'>;
  account: RenderAccount;
  contactLocale: Locale | null;
  accountLocale: Locale | null;
  contactTimeZone: string | null;
  accountTimeZone: string | null;
}

interface PreviewContactRow {
  contact_id: string;
  contact_external_id: string;
  contact_name: string | null;
  roles: string[];
  contact_attributes: Attributes;
  contact_locale: Locale | null;
  contact_time_zone: string | null;
  account_id: string;
  account_external_id: string;
  account_name: string;
  plan: string | null;
  renewal_date: string | null;
  account_attributes: Attributes;
  account_locale: Locale | null;
  account_time_zone: string | null;
}

/** Read-only queries of the template admin API (previews never write). */
@Injectable()
export class TemplatesRepository {
  constructor(private readonly dataSource: DataSource) {}

  async previewContact(externalId: string): Promise<PreviewContact | undefined> {
    const rows: PreviewContactRow[] = await this.dataSource.query(
      `SELECT c.id AS contact_id, c.external_id AS contact_external_id, c.name AS contact_name, c.roles,
              c.attributes AS contact_attributes, c.locale AS contact_locale, c.time_zone AS contact_time_zone,
              a.id AS account_id, a.external_id AS account_external_id, a.name AS account_name, a.plan,
              a.renewal_date::text AS renewal_date, a.attributes AS account_attributes, a.locale AS account_locale,
              a.time_zone AS account_time_zone
       FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.external_id = $1`,
      [externalId],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      recipient: {
        contactId: r.contact_id,
        externalId: r.contact_external_id,
        name: r.contact_name,
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
    };
  }
}
