import { Module } from '@nestjs/common';
import { EventsRepository } from '../../events/events.repository';
import { MessageQueue } from '../../messaging/send/message-queue.service';
import { SendRepository } from '../../messaging/send/send.repository';
import { FactSnapshotRepository } from '../../metrics/fact-snapshot.repository';
import { EnrollmentsRepository } from './enrollments.repository';
import { ScenarioExecutor } from './scenario-executor';
import { ScenarioRegistry } from './scenario-registry.service';
import { ScenarioTriggers } from './scenario-triggers.service';
import { ScenarioWorker } from './scenario-worker.service';

/**
 * Scenario runtime, worker role: enrollments and the executor of due steps. The send
 * queue's services are provided here (not MessagingSendModule, which carries the api
 * role's controllers).
 */
@Module({
  providers: [
    EventsRepository,
    SendRepository,
    MessageQueue,
    FactSnapshotRepository,
    EnrollmentsRepository,
    ScenarioExecutor,
    ScenarioRegistry,
    ScenarioTriggers,
    ScenarioWorker,
  ],
  exports: [EnrollmentsRepository, ScenarioExecutor, ScenarioRegistry, ScenarioTriggers],
})
export class ScenarioRuntimeModule {}
