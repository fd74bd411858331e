import { Module } from '@nestjs/common';
import { EventsRepository } from '../../events/events.repository';
import { MessageQueue } from '../../messaging/send/message-queue.service';
import { SendRepository } from '../../messaging/send/send.repository';
import { HandoffsCoreModule } from '../../handoffs/handoffs-core.module';
import { ScenarioRegistryModule } from './scenario-registry.module';
import { ScenarioExecutor } from './scenario-executor';
import { ScenarioTriggers } from './scenario-triggers.service';
import { ScenarioWorker } from './scenario-worker.service';

/**
 * Scenario runtime, worker role: enrollments and the executor of due steps. The send
 * queue's services are provided here (not MessagingSendModule, which carries the api
 * role's controllers).
 */
@Module({
  imports: [ScenarioRegistryModule, HandoffsCoreModule],
  providers: [EventsRepository, SendRepository, MessageQueue, ScenarioExecutor, ScenarioTriggers, ScenarioWorker],
  exports: [ScenarioExecutor, ScenarioTriggers],
})
export class ScenarioRuntimeModule {}
