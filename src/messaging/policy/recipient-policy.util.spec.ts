import { decideRecipientPolicy, type RecipientFacts } from './recipient-policy.util';

const ok: RecipientFacts = { status: 'active', consentBasis: 'opt_in', suppression: null, topicSubscribed: null };

describe('decideRecipientPolicy', () => {
  it('allows both kinds to an active, consenting, unsuppressed contact', () => {
    expect(decideRecipientPolicy(ok, 'advertising', 'product_tips')).toEqual({ allowed: true });
    expect(decideRecipientPolicy(ok, 'operational', null)).toEqual({ allowed: true });
    expect(decideRecipientPolicy({ ...ok, topicSubscribed: true }, 'advertising', 'events')).toEqual({
      allowed: true,
    });
  });

  it('refuses an unknown contact', () => {
    expect(decideRecipientPolicy(null, 'operational', null)).toEqual({ allowed: false, reason: 'contact_not_found' });
  });

  it('refuses all mail to a hard-bounced address or bounced contact', () => {
    for (const kind of ['advertising', 'operational'] as const) {
      expect(decideRecipientPolicy({ ...ok, suppression: 'hard_bounce' }, kind, null)).toEqual({
        allowed: false,
        reason: 'suppressed:hard_bounce',
      });
      expect(decideRecipientPolicy({ ...ok, status: 'bounced' }, kind, null)).toEqual({
        allowed: false,
        reason: 'contact_bounced',
      });
    }
  });

  it('lets operational mail through other suppressions, missing consent and a left contact', () => {
    const facts: RecipientFacts = {
      status: 'left',
      consentBasis: null,
      suppression: 'spam_complaint',
      topicSubscribed: false,
    };
    expect(decideRecipientPolicy(facts, 'operational', 'product_tips')).toEqual({ allowed: true });
  });

  it('refuses advertising mail without consent, to a left contact, when suppressed or topic unsubscribed', () => {
    expect(decideRecipientPolicy({ ...ok, consentBasis: null }, 'advertising', null)).toEqual({
      allowed: false,
      reason: 'no_consent',
    });
    expect(decideRecipientPolicy({ ...ok, status: 'left' }, 'advertising', null)).toEqual({
      allowed: false,
      reason: 'contact_left',
    });
    for (const reason of ['unsubscribed', 'spam_complaint', 'manual'] as const) {
      expect(decideRecipientPolicy({ ...ok, suppression: reason }, 'advertising', null)).toEqual({
        allowed: false,
        reason: `suppressed:${reason}`,
      });
    }
    expect(decideRecipientPolicy({ ...ok, topicSubscribed: false }, 'advertising', 'events')).toEqual({
      allowed: false,
      reason: 'topic_unsubscribed:events',
    });
  });
});
