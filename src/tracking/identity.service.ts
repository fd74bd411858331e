import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { normaliseEmail } from '../common/email';
import { logger } from '../common/logger';
import { decideLink } from './identity-link.util';
import { TrackingRepository } from './tracking.repository';
import type { LinkStatus } from './visitor.entity';

export type IdentifyOutcome = 'linked' | 'upgraded' | 'unchanged' | 'conflict' | 'relinked' | 'unknown_contact';

/** Links anonymous visitors to contacts, under a row lock so concurrent identifies cannot race. */
@Injectable()
export class IdentityService {
  constructor(
    private readonly repository: TrackingRepository,
    private readonly clock: Clock,
  ) {}

  async identifyByEmail(visitorId: string, email: string): Promise<IdentifyOutcome> {
    const contactId = await this.repository.findContactIdByEmail(normaliseEmail(email));
    if (!contactId) return 'unknown_contact';
    return this.identify(visitorId, contactId, 'unverified');
  }

  async identifyVerified(visitorId: string, contactId: string): Promise<IdentifyOutcome> {
    if (!(await this.repository.contactExists(contactId))) return 'unknown_contact';
    return this.identify(visitorId, contactId, 'verified');
  }

  private identify(visitorId: string, contactId: string, method: LinkStatus): Promise<IdentifyOutcome> {
    const now = this.clock.now();
    return this.repository.withLockedVisitor(visitorId, now, async (m, visitor) => {
      const current =
        visitor.contactId && visitor.linkStatus ? { contactId: visitor.contactId, status: visitor.linkStatus } : null;
      const decision = decideLink(current, { contactId, method });
      switch (decision.action) {
        case 'link':
          await this.repository.setLink(m, visitorId, contactId, decision.status, now);
          return 'linked';
        case 'upgrade':
          await this.repository.setLink(m, visitorId, contactId, 'verified', now);
          return 'upgraded';
        case 'noop':
          return 'unchanged';
        case 'conflict':
        case 'relink_and_record': {
          await this.repository.recordConflict(m, {
            visitorId,
            linkedContactId: current!.contactId,
            attemptedContactId: contactId,
            method,
            at: now,
          });
          if (decision.action === 'conflict') {
            logger.info({ visitorId, method }, 'identity conflict recorded; link kept');
            return 'conflict';
          }
          await this.repository.setLink(m, visitorId, contactId, 'verified', now);
          logger.info({ visitorId }, 'unverified link replaced by a verified identify; conflict recorded');
          return 'relinked';
        }
      }
    });
  }
}
