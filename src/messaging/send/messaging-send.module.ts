import { Module } from '@nestjs/common';
import { EventsRepository } from '../../events/events.repository';
import { MessageQueue } from './message-queue.service';
import { MessagesController } from './messages.controller';
import { OutboxController } from './outbox.controller';
import { SendRepository } from './send.repository';

/**
 * Send pipeline, api role: queue messages (POST /api/messages) and read the outbox.
 * MessageRenderer comes from the templates part (a global provider); EventsRepository is
 * provided here so the module does not pull EventsModule's controllers in.
 */
@Module({
  controllers: [MessagesController, OutboxController],
  providers: [EventsRepository, SendRepository, MessageQueue],
  exports: [MessageQueue],
})
export class MessagingSendModule {}
