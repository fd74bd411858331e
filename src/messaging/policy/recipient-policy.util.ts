import type { ConsentBasis, ContactStatus } from '../../contacts/contact.entity';
import type { MessageKind } from '../message.entity';
import type { PolicyVerdict } from '../messaging.contracts';
import type { SuppressionReason } from '../suppression.entity';

/** What the policy needs to know about one recipient, read in one query. */
export interface RecipientFacts {
  status: ContactStatus;
  consentBasis: ConsentBasis | null;
  /** Reason the contact's (normalised) address is suppressed, or null. */
  suppression: SuppressionReason | null;
  /** The contact's choice for the message's topic; null when never chosen (subscribed). */
  topicSubscribed: boolean | null;
}

/**
 * Decides whether a contact may receive a message. Operational mail is refused
 * only for an undeliverable address (hard bounce, bounced contact); advertising
 * mail also needs a consent basis (特定電子メール法), an active contact, no
 * suppression of any reason and the topic not unsubscribed.
 */
export function decideRecipientPolicy(
  facts: RecipientFacts | null,
  kind: MessageKind,
  topic: string | null,
): PolicyVerdict {
  if (facts === null) return { allowed: false, reason: 'contact_not_found' };
  if (facts.suppression === 'hard_bounce') return { allowed: false, reason: 'suppressed:hard_bounce' };
  if (facts.status === 'bounced') return { allowed: false, reason: 'contact_bounced' };
  switch (kind) {
    case 'operational':
      return { allowed: true };
    case 'advertising':
      if (facts.status === 'left') return { allowed: false, reason: 'contact_left' };
      if (facts.consentBasis === null) return { allowed: false, reason: 'no_consent' };
      if (facts.suppression !== null) return { allowed: false, reason: `suppressed:${facts.suppression}` };
      if (topic !== null && facts.topicSubscribed === false) {
        return { allowed: false, reason: `topic_unsubscribed:${topic}` };
      }
      return { allowed: true };
  }
}
