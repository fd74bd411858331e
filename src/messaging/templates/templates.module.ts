import { type DynamicModule, Module } from '@nestjs/common';
import { trackingSignerProvider } from '../../tracking/tracking.module';
import { MessageRenderer } from '../messaging.contracts';
import { TEMPLATES_OPTIONS, TemplateRenderer, type TemplatesOptions } from './template-renderer';

/**
 * Template rendering: `MessageRenderer` for the send pipeline, `TemplateRenderer`
 * for previews. Templates are read from `<cwd>/templates` unless TEMPLATES_OPTIONS
 * is provided (tests).
 */
@Module({
  providers: [trackingSignerProvider, TemplateRenderer, { provide: MessageRenderer, useExisting: TemplateRenderer }],
  exports: [MessageRenderer, TemplateRenderer],
})
export class TemplatesModule {
  /** The module with another templates directory (tests, previews of a working copy). */
  static withOptions(options: TemplatesOptions): DynamicModule {
    return { module: TemplatesModule, providers: [{ provide: TEMPLATES_OPTIONS, useValue: options }] };
  }
}
