import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { UsageRollups } from '../metrics/usage-rollups.service';
import { HandoffPagesController } from './handoff-pages.controller';
import { HandoffAccessSigner } from './handoff-pages.util';
import { HandoffLinkController, HandoffsController, TechTouchPauseController } from './handoffs.controller';
import { HandoffsCoreModule } from './handoffs-core.module';

/**
 * Handoffs for people (api role): the admin API under `/api/handoffs` (plus the manual
 * tech-touch pause and the CSM page links), and the CSM pages under `/csm/handoffs`,
 * opened with a signed link instead of the API key.
 */
@Module({
  imports: [HandoffsCoreModule],
  controllers: [HandoffsController, TechTouchPauseController, HandoffLinkController, HandoffPagesController],
  providers: [
    UsageRollups,
    {
      provide: HandoffAccessSigner,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new HandoffAccessSigner(config.tracking.keys, config.tracking.gracePeriodMs),
    },
  ],
})
export class HandoffsApiModule {}
