import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ContactsModule } from '../contacts/contacts.module';
import { EmailTrackingRoutes } from './email-tracking.routes';
import { EmailTrackingService } from './email-tracking.service';
import { IdentityAdminController } from './identity-admin.controller';
import { IdentityService } from './identity.service';
import { SiteTrackingController } from './site-tracking.controller';
import { TrackingRecorder } from './tracking-recorder.service';
import { TrackingTokenSigner } from './tracking-token.signer';
import { TrackingRepository } from './tracking.repository';

export const trackingSignerProvider = {
  provide: TrackingTokenSigner,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => new TrackingTokenSigner(config.tracking),
};

/**
 * Open pixel and click redirect (plain Fastify routes, see EmailTrackingRoutes),
 * site snippet and identity linking (api role).
 */
@Module({
  imports: [ContactsModule],
  controllers: [SiteTrackingController, IdentityAdminController],
  providers: [
    trackingSignerProvider,
    TrackingRepository,
    TrackingRecorder,
    IdentityService,
    EmailTrackingService,
    EmailTrackingRoutes,
  ],
  exports: [TrackingTokenSigner],
})
export class TrackingModule {}
