import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ContactsModule } from '../contacts/contacts.module';
import { EmailTrackingController } from './email-tracking.controller';
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

/** Open pixel, click redirect, site snippet and identity linking (api role). */
@Module({
  imports: [ContactsModule],
  controllers: [EmailTrackingController, SiteTrackingController, IdentityAdminController],
  providers: [trackingSignerProvider, TrackingRepository, TrackingRecorder, IdentityService],
  exports: [TrackingTokenSigner],
})
export class TrackingModule {}
