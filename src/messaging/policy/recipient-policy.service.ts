import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { MessageKind } from '../message.entity';
import { type PolicyQuestion, type PolicyVerdict, RecipientPolicy } from '../messaging.contracts';
import { PolicyRepository } from './policy.repository';
import { decideRecipientPolicy } from './recipient-policy.util';

/** The send-time check: reads the facts with the caller's manager (inside its transaction) and decides. */
@Injectable()
export class RecipientPolicyService extends RecipientPolicy {
  constructor(private readonly repository: PolicyRepository) {
    super();
  }

  override async check(
    manager: EntityManager,
    contactId: string,
    kind: MessageKind,
    topic: string | null,
  ): Promise<PolicyVerdict> {
    const facts = await this.repository.recipientFacts(manager, contactId, topic);
    return decideRecipientPolicy(facts, kind, topic);
  }

  override async checkMany(manager: EntityManager, items: readonly PolicyQuestion[]): Promise<PolicyVerdict[]> {
    const facts = await this.repository.recipientFactsMany(manager, items);
    return items.map((item, i) => decideRecipientPolicy(facts[i] ?? null, item.kind, item.topic));
  }
}
