import { Module } from '@nestjs/common';
import { FactSnapshotRepository } from '../../metrics/fact-snapshot.repository';
import { UsageRollups } from '../../metrics/usage-rollups.service';
import { EnrollmentsRepository } from './enrollments.repository';
import { InFlightMigration } from './in-flight-migration';
import { ScenarioRegistry } from './scenario-registry.service';

/** The loaded scenarios and the storage both roles share (one registry per process). */
@Module({
  providers: [EnrollmentsRepository, FactSnapshotRepository, InFlightMigration, ScenarioRegistry, UsageRollups],
  exports: [EnrollmentsRepository, FactSnapshotRepository, ScenarioRegistry, UsageRollups],
})
export class ScenarioRegistryModule {}
