import { Module } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { APP_CONFIG } from '../../config/app-config';
import { EventsRepository } from '../../events/events.repository';
import { MessageQueue } from './message-queue.service';
import { SendRepository } from './send.repository';
import { SendWorker } from './send.worker';
import { MailTransport } from './transports/mail-transport';
import { createMailTransport } from './transports/transport.factory';

/**
 * Send pipeline, worker role: the scheduled SendWorker and the configured transport.
 * MessageRenderer and RecipientPolicy come from the templates and policy parts.
 */
@Module({
  providers: [
    EventsRepository,
    SendRepository,
    MessageQueue,
    { provide: MailTransport, inject: [APP_CONFIG, Clock], useFactory: createMailTransport },
    SendWorker,
  ],
  exports: [MessageQueue, SendWorker],
})
export class MessagingSendWorkerModule {}
