import { Module } from '@nestjs/common';
import { EventsRepository } from '../events/events.repository';
import { FactSnapshotRepository } from '../metrics/fact-snapshot.repository';
import { HandoffsService } from './handoffs.service';

/** Raising and moving handoffs: what the scenario executor, the API and the pages share. */
@Module({
  providers: [EventsRepository, FactSnapshotRepository, HandoffsService],
  exports: [HandoffsService],
})
export class HandoffsCoreModule {}
