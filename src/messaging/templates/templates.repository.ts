import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { RenderRecipient } from '../messaging.contracts';
import { queryRecipientContexts, type RecipientContext } from '../recipient-context.query';

/**
 * A real contact and its account as a preview renders them. The email address is dropped:
 * templates never show it, and a preview has no need for it.
 */
export type PreviewContact = Omit<RecipientContext, 'recipient'> & {
  recipient: Omit<RenderRecipient, 'email' | 'timeZone'>;
};

/** Read-only queries of the template admin API (previews never write). */
@Injectable()
export class TemplatesRepository {
  constructor(private readonly dataSource: DataSource) {}

  async previewContact(externalId: string): Promise<PreviewContact | undefined> {
    const [context] = await queryRecipientContexts(this.dataSource.manager, 'external_id', [externalId]);
    if (!context) return undefined;
    const { email: _email, ...recipient } = context.recipient;
    return { ...context, recipient };
  }
}
