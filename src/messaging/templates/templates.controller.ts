import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiKeyGuard } from '../../common/api-key.guard';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { parseOrThrow } from '../../common/zod-issues';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { MessageKind } from '../message.entity';
import type { Locale, RenderedMessage } from '../messaging.contracts';
import { resolveTimeZone } from '../send/recipient-zone.util';
import { enqueueMessageSchema } from '../send/send.schemas';
import { type TemplateDefinition, templateLocales } from './template-catalog';
import { type PreviewSample, TemplateRenderer } from './template-renderer';
import { TemplatesRepository } from './templates.repository';

/** The template id of POST /api/messages: `group/name`, lower-case. */
const templateIdSchema = enqueueMessageSchema.shape.template;

/** POST /api/templates/:group/:name/preview */
export const previewBodySchema = z.strictObject({
  locale: z.enum(['ja', 'en']).optional(),
  contactExternalId: z.string().trim().min(1).max(200).optional(),
  data: z.record(z.string(), z.json()).optional(),
  tracking: z.boolean().optional(),
});
export type PreviewBody = z.infer<typeof previewBodySchema>;

const previewQuerySchema = z.strictObject({ format: z.enum(['json', 'html']).optional() });

export interface TemplateSummaryView {
  id: string;
  kind: MessageKind;
  topic: string | null;
  locales: Locale[];
  /** Raw Handlebars source of the subject per locale. */
  subject: Partial<Record<Locale, string>>;
}

export interface TemplateDefinitionView extends TemplateSummaryView {
  layout: string;
  preheader: Partial<Record<Locale, string>>;
  /** Files relative to the templates directory. */
  files: { manifest: string; bodies: Partial<Record<Locale, string>> };
  /** Sample `data` used by previews (template.yaml `sample.data`). */
  sampleData: Record<string, unknown>;
}

/** A rendered preview: everything but the unsubscribe URL signed for the preview id. */
export type TemplatePreviewView = Omit<RenderedMessage, 'unsubscribeUrl'>;

/**
 * Lists, inspects and previews mail templates. A preview is rendered in memory only:
 * nothing is written or sent, and tokens (unsubscribe, tracking) are signed for a fixed
 * preview message id, never for a real message.
 */
@Controller('api/templates')
@UseGuards(ApiKeyGuard)
export class TemplatesController {
  constructor(
    private readonly renderer: TemplateRenderer,
    private readonly repository: TemplatesRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  list(): { items: TemplateSummaryView[] } {
    return { items: this.renderer.list().map(toSummary).sort((a, b) => a.id.localeCompare(b.id)) };
  }

  @Get(':group/:name')
  get(@Param('group') group: string, @Param('name') name: string): TemplateDefinitionView {
    const t = this.definitionOf(group, name);
    return {
      ...toSummary(t),
      layout: t.layout,
      preheader: t.preheader,
      files: {
        manifest: t.manifestFile,
        bodies: Object.fromEntries(templateLocales(t).map((l) => [l, t.bodies[l]?.file ?? ''])),
      },
      sampleData: t.sampleData,
    };
  }

  /** JSON by default; the HTML page itself with `?format=html` or `Accept: text/html`. */
  @Post(':group/:name/preview')
  @HttpCode(200)
  async preview(
    @Param('group') group: string,
    @Param('name') name: string,
    @Body() body: unknown,
    @Query() query: unknown,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TemplatePreviewView | string> {
    const t = this.definitionOf(group, name);
    const { format } = parseOrThrow(previewQuerySchema, query, 'query');
    const input = parseOrThrow(previewBodySchema, body ?? {});
    if (!this.renderer.has(t.id)) throw new DomainError(ErrorCode.Conflict, 'The template has no locale to render');

    const on = input.tracking === true;
    const sample: PreviewSample = { tracking: { opens: on, clicks: on }, ...(input.data ? { data: input.data } : {}) };
    let locale: Locale = input.locale ?? this.config.defaults.locale;
    if (input.contactExternalId !== undefined) {
      const contact = await this.repository.previewContact(input.contactExternalId);
      if (!contact) throw new DomainError(ErrorCode.NotFound, 'No contact with that external id');
      locale = input.locale ?? contact.contactLocale ?? contact.accountLocale ?? this.config.defaults.locale;
      sample.recipient = { ...contact.recipient, timeZone: resolveTimeZone(contact, this.config) };
      sample.account = contact.account;
    }
    // No messageId: renderPreview signs every token for its fixed preview id.
    const m = await this.renderer.renderPreview(t.id, locale, sample);

    void reply.header('cache-control', 'no-store').header('vary', 'accept');
    if (wantsHtml(format, accept)) {
      void reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // The page is shown as mail would be: images and inline styles, no scripts.
        .header(
          'content-security-policy',
          "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline' https:; font-src https: data:; sandbox allow-popups allow-popups-to-escape-sandbox",
        );
      return m.html;
    }
    return {
      template: m.template,
      locale: m.locale,
      kind: m.kind,
      topic: m.topic,
      subject: m.subject,
      preheader: m.preheader,
      html: m.html,
      text: m.text,
      links: m.links,
    };
  }

  private definitionOf(group: string, name: string): TemplateDefinition {
    const id = parseOrThrow(templateIdSchema, `${group}/${name}`, 'template id in the URL');
    const t = this.renderer.definition(id);
    if (!t) throw new DomainError(ErrorCode.NotFound, 'No template with that id');
    return t;
  }
}

function toSummary(t: TemplateDefinition): TemplateSummaryView {
  return { id: t.id, kind: t.kind, topic: t.topic, locales: templateLocales(t), subject: t.subject };
}

/** `?format=` decides; otherwise HTML when the client asks for text/html and not for JSON. */
function wantsHtml(format: 'json' | 'html' | undefined, accept: string | undefined): boolean {
  if (format !== undefined) return format === 'html';
  const types = (accept ?? '').split(',').map((part) => (part.split(';')[0] ?? '').trim().toLowerCase());
  return types.includes('text/html') && !types.includes('application/json');
}
