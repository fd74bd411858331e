import { Module } from '@nestjs/common';
import { ContactsModule } from '../contacts/contacts.module';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';
import { TimelineController } from './timeline.controller';
import { TimelineService } from './timeline.service';

/**
 * Product-usage ingest and timelines. Other modules append their own events
 * (email.*, site.*, ...) with `EventsRepository.appendEvents(manager, rows)` inside
 * their transaction.
 */
@Module({
  imports: [ContactsModule],
  controllers: [EventsController, TimelineController],
  providers: [EventsRepository, EventsService, TimelineService],
  exports: [EventsRepository],
})
export class EventsModule {}
