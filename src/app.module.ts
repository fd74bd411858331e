import { type DynamicModule, Module, type ModuleMetadata } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CoreModule, type CoreOptions } from './common/core.module';
import { ContactsModule } from './contacts/contacts.module';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { MessagingCoreModule } from './messaging/messaging-core.module';
import { MessagingPolicyModule } from './messaging/policy/messaging-policy.module';
import { MessagingSendWorkerModule } from './messaging/send/messaging-send-worker.module';
import { MessagingSendModule } from './messaging/send/messaging-send.module';
import { TemplatesApiModule } from './messaging/templates/templates-api.module';
import { ScenarioRuntimeModule } from './scenarios/runtime/scenario-runtime.module';
import { ScenariosApiModule } from './scenarios/runtime/scenarios-api.module';
import { HandoffsApiModule } from './handoffs/handoffs-api.module';
import { HandoffsWorkerModule } from './handoffs/handoffs-worker.module';
import { TrackingWorkerModule } from './tracking/tracking-worker.module';
import { TrackingModule } from './tracking/tracking.module';

/**
 * Wiring only. ROLE=api serves the admin API, tracking and unsubscribe; ROLE=worker
 * runs scheduled work (sending, retention); ROLE=all does both. Every role answers
 * the health endpoints.
 */
@Module({})
export class AppModule {
  static forRoot(options: CoreOptions): DynamicModule {
    const role = options.config.role;
    const imports: NonNullable<ModuleMetadata['imports']> = [
      CoreModule.forRoot(options),
      HealthModule,
      MessagingCoreModule,
    ];
    if (role === 'api' || role === 'all') {
      imports.push(
        ContactsModule,
        EventsModule,
        TrackingModule,
        MessagingPolicyModule,
        MessagingSendModule,
        TemplatesApiModule,
        ScenariosApiModule,
        HandoffsApiModule,
      );
    }
    if (role === 'worker' || role === 'all') {
      imports.push(
        ScheduleModule.forRoot(),
        TrackingWorkerModule,
        MessagingSendWorkerModule,
        ScenarioRuntimeModule,
        HandoffsWorkerModule,
      );
    }
    return { module: AppModule, imports };
  }
}
