import { Module } from '@nestjs/common';
import { ScenarioExplainer } from './scenario-explainer.service';
import { ScenarioRegistryModule } from './scenario-registry.module';
import { ScenariosController } from './scenarios.controller';

/** Scenarios admin API (api role). */
@Module({
  imports: [ScenarioRegistryModule],
  controllers: [ScenariosController],
  providers: [ScenarioExplainer],
})
export class ScenariosApiModule {}
