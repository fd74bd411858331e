import { Module } from '@nestjs/common';
import { TemplatesController } from './templates.controller';
import { TemplatesRepository } from './templates.repository';

/**
 * Template admin API (api role only): list, inspect and preview templates under
 * `/api/templates`. TemplateRenderer comes from TemplatesModule, which MessagingCoreModule
 * provides globally for every role; it is not imported here, so there is one renderer.
 */
@Module({
  controllers: [TemplatesController],
  providers: [TemplatesRepository],
})
export class TemplatesApiModule {}
