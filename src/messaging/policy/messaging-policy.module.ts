import { Module } from '@nestjs/common';
import { EventsModule } from '../../events/events.module';
import { trackingSignerProvider } from '../../tracking/tracking.module';
import { RecipientPolicy } from '../messaging.contracts';
import { PolicyRawRoutes } from './policy-raw-routes';
import { PolicyRepository } from './policy.repository';
import { ProviderEventsRepository } from './provider-events.repository';
import { RecipientPolicyService } from './recipient-policy.service';
import { SendgridWebhookService } from './sendgrid-webhook.service';
import { SuppressionsController } from './suppressions.controller';
import { SuppressionsService } from './suppressions.service';
import { UnsubscribeController } from './unsubscribe.controller';
import { UnsubscribeService } from './unsubscribe.service';

/**
 * Recipient policy (suppression, consent, preferences) checked at send time,
 * the unsubscribe pages (`/u/<token>`), the suppression admin API and the
 * SendGrid event webhook (api role). Exports RecipientPolicy for the send pipeline.
 */
@Module({
  imports: [EventsModule],
  controllers: [UnsubscribeController, SuppressionsController],
  providers: [
    trackingSignerProvider,
    PolicyRepository,
    ProviderEventsRepository,
    RecipientPolicyService,
    { provide: RecipientPolicy, useExisting: RecipientPolicyService },
    UnsubscribeService,
    SuppressionsService,
    SendgridWebhookService,
    PolicyRawRoutes,
  ],
  exports: [RecipientPolicy],
})
export class MessagingPolicyModule {}
