import { Module } from '@nestjs/common';
import { EventsModule } from '../../events/events.module';
import { trackingSignerProvider } from '../../tracking/tracking.module';
import { PolicyRawRoutes } from './policy-raw-routes';
import { ProviderEventsRepository } from './provider-events.repository';
import { RecipientPolicyModule } from './recipient-policy.module';
import { SendgridWebhookService } from './sendgrid-webhook.service';
import { SuppressionsController } from './suppressions.controller';
import { SuppressionsService } from './suppressions.service';
import { UnsubscribeController } from './unsubscribe.controller';
import { UnsubscribeService } from './unsubscribe.service';

/**
 * Recipient policy (suppression, consent, preferences) checked at send time,
 * the unsubscribe pages (`/u/<token>`), the suppression admin API and the
 * SendGrid event webhook (api role). The send-time check itself is RecipientPolicyModule.
 */
@Module({
  imports: [EventsModule, RecipientPolicyModule],
  controllers: [UnsubscribeController, SuppressionsController],
  providers: [
    trackingSignerProvider,
    ProviderEventsRepository,
    UnsubscribeService,
    SuppressionsService,
    SendgridWebhookService,
    PolicyRawRoutes,
  ],
})
export class MessagingPolicyModule {}
