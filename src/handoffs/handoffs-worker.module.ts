import { Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { APP_CONFIG } from '../config/app-config';
import { MailTransport } from '../messaging/send/transports/mail-transport';
import { createMailTransport } from '../messaging/send/transports/transport.factory';
import { HandoffWorker } from './handoff-worker.service';
import { HandoffsCoreModule } from './handoffs-core.module';
import { HandoffNotifier } from './notifications/handoff-notifier';

/**
 * Handoffs, worker role: the notifier (CSM mail, webhooks, digests) and its scheduled
 * worker (escalation scan, delivery). Its own MailTransport from the same configuration
 * as the send pipeline (config.mail.transport).
 */
@Module({
  imports: [HandoffsCoreModule],
  providers: [
    { provide: MailTransport, inject: [APP_CONFIG, Clock], useFactory: createMailTransport },
    HandoffNotifier,
    HandoffWorker,
  ],
  exports: [HandoffNotifier, HandoffWorker],
})
export class HandoffsWorkerModule {}
