import { Global, Module } from '@nestjs/common';
import { RecipientPolicyModule } from './policy/recipient-policy.module';
import { TemplatesModule } from './templates/templates.module';

/**
 * The two contracts the send pipeline needs, provided once for every role:
 * MessageRenderer (templates) and RecipientPolicy (suppression, consent, preferences).
 */
@Global()
@Module({
  imports: [TemplatesModule, RecipientPolicyModule],
  exports: [TemplatesModule, RecipientPolicyModule],
})
export class MessagingCoreModule {}
