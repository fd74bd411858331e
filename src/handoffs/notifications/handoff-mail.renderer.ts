import { compileMailToText } from '../../messaging/templates/template-renderer';
import { join } from 'node:path';
import type { Locale } from '../../messaging/messaging.contracts';
import { compileMjml } from '../../messaging/templates/mjml-compiler';
import { loadCatalog, type TemplateDefinition } from '../../messaging/templates/template-catalog';
import { createHandlebars } from '../../messaging/templates/template-helpers';

export const HANDOFF_NOTIFICATION_TEMPLATE = 'system/handoff-notification';
export const HANDOFF_DIGEST_TEMPLATE = 'system/handoff-digest';

export interface RenderedHandoffMail {
  subject: string;
  html: string;
  text: string;
}

/**
 * The CSM mail of handoffs. The bodies and subjects live in templates/system/ (so the
 * template check and previews see them), but the mail goes to a colleague, not a customer:
 * it is rendered here in a plain internal layout, without the customer footer, tracking
 * or unsubscribe link. Handlebars runs first (data is escaped), then MJML.
 */
export class HandoffMailRenderer {
  private readonly hbs = createHandlebars();
  private templates: Map<string, TemplateDefinition> | undefined;
  private readonly toText = compileMailToText();

  constructor(
    private readonly dir: string = join(process.cwd(), 'templates'),
    private readonly timeZone = 'Asia/Tokyo',
  ) {}

  async render(
    templateId: string,
    wanted: Locale,
    data: Record<string, unknown>,
    now: Date,
  ): Promise<RenderedHandoffMail> {
    const t = this.template(templateId);
    const locale: Locale = t.bodies[wanted] && t.subject[wanted] ? wanted : wanted === 'ja' ? 'en' : 'ja';
    const body = t.bodies[locale];
    const subject = t.subject[locale];
    if (!body || !subject) throw new Error(`${templateId} has no ${locale} body or subject`);
    const runtime = { data: { locale, timeZone: this.timeZone, nowMs: now.getTime() } };
    const context = { data, locale };
    const mjml = this.hbs.compile(layout(body.text))(context, runtime);
    const { html, errors } = await compileMjml(mjml);
    if (errors.length > 0 && html.length === 0) throw new Error(`MJML: ${errors.map((e) => e.message).join('; ')}`);
    return {
      subject: this.hbs
        .compile(subject, { noEscape: true })(context, runtime)
        .replace(/[\r\n]+/g, ' ')
        .trim(),
      html,
      text: this.toText(html),
    };
  }

  private template(id: string): TemplateDefinition {
    if (!this.templates) this.templates = loadCatalog(this.dir).templates;
    const t = this.templates.get(id);
    if (!t) throw new Error(`template ${id} not found under ${this.dir}`);
    return t;
  }
}

function layout(body: string): string {
  return `<mjml lang="{{locale}}">
  <mj-head>
    <mj-attributes>
      <mj-all font-family="'Hiragino Sans', 'Hiragino Kaku Gothic ProN', Meiryo, 'Helvetica Neue', Arial, sans-serif" />
      <mj-text font-size="15px" line-height="1.8" color="#1f2933" padding="8px 24px" />
      <mj-button background-color="#2f6f4f" color="#ffffff" font-size="15px" border-radius="6px" inner-padding="12px 28px" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#f4f6f5" width="600px">
    <mj-wrapper background-color="#ffffff" padding="16px 0" border-radius="8px">
${body}
    </mj-wrapper>
    <mj-section padding="12px 0 24px">
      <mj-column>
        <mj-text font-size="12px" color="#5f6b66">Tend — {{#if (eq locale "ja")}}カスタマーサクセス担当者向けの業務通知です。{{else}}an operational notice for customer success managers.{{/if}}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
}
