import { Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import type { TemplateDelegate } from 'handlebars';
import { compile as compileHtmlToText } from 'html-to-text';
import { join } from 'node:path';
import { Clock } from '../../common/clock';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { TrackingTokenSigner } from '../../tracking/tracking-token.signer';
import {
  type Locale,
  MessageRenderer,
  preferencesUrl,
  type RenderAccount,
  type RenderedMessage,
  type RenderRecipient,
  type RenderRequest,
  type TemplateTraits,
  unsubscribeUrl,
} from '../messaging.contracts';
import { addOpenPixel, rewriteLinks, rewriteTextLinks } from './link-rewriter';
import { compileMjml, type MjmlCompile } from './mjml-compiler';
import {
  assembleSource,
  type AssembledSource,
  type Catalog,
  loadCatalog,
  resolveLocale,
  type TemplateDefinition,
  TemplateError,
  templateLocales,
  type TemplateProblem,
} from './template-catalog';
import { createHandlebars, KNOWN_HELPERS, type RenderData } from './template-helpers';

export const TEMPLATES_OPTIONS = Symbol('TEMPLATES_OPTIONS');

export interface TemplatesOptions {
  /** Templates root; default `<cwd>/templates`. */
  dir?: string;
  /** MJML compiler (tests wrap it to count compilations). */
  compile?: MjmlCompile;
}

/** The part of AppConfig the renderer reads. */
export type TemplateRendererConfig = {
  http: Pick<AppConfig['http'], 'publicBaseUrl'>;
  mail: Pick<AppConfig['mail'], 'sender'>;
  defaults: AppConfig['defaults'];
};

/** Overrides for a preview or check render; anything missing comes from a sample recipient. */
export interface PreviewSample {
  recipient?: Partial<RenderRecipient>;
  account?: Partial<RenderAccount>;
  data?: Record<string, unknown>;
  tracking?: RenderRequest['tracking'];
  messageId?: string;
}

interface CompiledTemplate {
  html: TemplateDelegate;
  /** The plain-text part, derived from the compiled HTML once per template version. */
  text: TemplateDelegate;
  subject: TemplateDelegate;
  preheader: TemplateDelegate | null;
}

const PREVIEW_MESSAGE_ID = '00000000-0000-4000-8000-000000000000';
const knownHelpers = Object.fromEntries([...KNOWN_HELPERS].map((h) => [h, true]));

/** The plain-text part of a mail from its HTML (every mail Tend renders: customers' and CSMs'). */
export function compileMailToText(): (html: string) => string {
  return compileHtmlToText({
    wordwrap: false,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true, ignoreHref: false } },
      { selector: 'table', format: 'block' },
      { selector: 'tr', format: 'block' },
      { selector: 'td', format: 'block' },
      { selector: 'div[style^="display:none"]', format: 'skip' },
      // The input holds Handlebars expressions: never change their case.
      ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
    ],
  });
}

/**
 * Renders templates: MJML is compiled to HTML once per (template, locale, source
 * hash) and that HTML compiled once as a Handlebars template. The plain-text part is
 * made the same way: the compiled HTML, Handlebars expressions and all, is converted to
 * text once and compiled as a second Handlebars template (converting each recipient's
 * HTML instead cost more than everything else in a render). Each message then costs two
 * Handlebars runs and link rewriting.
 */
@Injectable()
export class TemplateRenderer extends MessageRenderer implements OnModuleInit {
  private readonly logger = new Logger(TemplateRenderer.name);
  private readonly dir: string;
  private readonly compileMjml: MjmlCompile;
  private readonly hbs = createHandlebars();
  private readonly toText = compileMailToText();
  private catalog: Catalog = { root: '', templates: new Map(), layouts: new Map(), partials: new Map(), problems: [] };
  /** `template|locale` -> the assembled MJML of the current catalog. */
  private sources = new Map<string, AssembledSource>();
  /** `template|locale|hash` -> compiled template (a promise, so concurrent first renders compile once). */
  private readonly compiled = new Map<string, Promise<CompiledTemplate>>();
  private compilations = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: TemplateRendererConfig,
    private readonly signer: TrackingTokenSigner,
    private readonly clock: Clock,
    @Optional() @Inject(TEMPLATES_OPTIONS) options?: TemplatesOptions,
  ) {
    super();
    this.dir = options?.dir ?? join(process.cwd(), 'templates');
    this.compileMjml = options?.compile ?? compileMjml;
  }

  /** Loads and compiles every template at start; a broken template stops the boot. */
  async onModuleInit(): Promise<void> {
    this.load();
    await this.warmUp();
    this.logger.log(`${this.catalog.templates.size} templates loaded from ${this.dir}`);
  }

  /**
   * (Re)reads the template files. Strict (boot): throws a TemplateError listing every
   * problem and keeps the previous catalog. Not strict (the template check): keeps the
   * templates that assembled and returns the problems.
   */
  load(strict = true): TemplateProblem[] {
    const catalog = loadCatalog(this.dir);
    const problems: TemplateProblem[] = [...catalog.problems];
    const sources = new Map<string, AssembledSource>();
    for (const t of catalog.templates.values()) {
      for (const locale of templateLocales(t)) {
        try {
          sources.set(`${t.id}|${locale}`, assembleSource(catalog, t, locale));
        } catch (error) {
          if (error instanceof TemplateError) problems.push(...error.problems);
          else throw error;
        }
      }
    }
    if (strict && problems.length > 0) throw new TemplateError(problems);
    this.catalog = catalog;
    this.sources = sources;
    return problems;
  }

  /** Compiles every (template, locale) now instead of on first use. */
  async warmUp(): Promise<void> {
    for (const t of this.catalog.templates.values()) {
      for (const locale of templateLocales(t)) {
        if (this.sources.has(`${t.id}|${locale}`)) await this.compiledFor(t, locale);
      }
    }
  }

  /** How many times MJML has run (cache misses). */
  get compileCount(): number {
    return this.compilations;
  }

  get templatesDir(): string {
    return this.dir;
  }

  list(): TemplateDefinition[] {
    return [...this.catalog.templates.values()];
  }

  definition(template: string): TemplateDefinition | undefined {
    return this.catalog.templates.get(template);
  }

  override has(template: string): boolean {
    return this.describe(template, this.config.defaults.locale) !== undefined;
  }

  override describe(template: string, locale: Locale): TemplateTraits | undefined {
    const t = this.catalog.templates.get(template);
    const resolved = t && resolveLocale(t, locale, this.config.defaults.locale);
    return t && resolved ? { locale: resolved, kind: t.kind, topic: t.topic } : undefined;
  }

  override async render(request: RenderRequest): Promise<RenderedMessage> {
    const t = this.catalog.templates.get(request.template);
    if (t === undefined) throw new Error(`unknown template ${request.template}`);
    const locale = resolveLocale(t, request.locale, this.config.defaults.locale);
    if (locale === null) throw new Error(`template ${request.template} has no locale to render`);
    const compiled = await this.compiledFor(t, locale);

    const base = this.config.http.publicBaseUrl;
    const unsubscribeToken = this.signer.sign({ k: 'u', m: request.messageId });
    const unsubscribe = unsubscribeUrl(base, unsubscribeToken);
    const preferences = preferencesUrl(base, unsubscribeToken);
    const { recipient, account } = request;
    const context: Record<string, unknown> = {
      contact: {
        name: recipient.name,
        externalId: recipient.externalId,
        roles: recipient.roles,
        attributes: recipient.attributes,
      },
      account: {
        name: account.name,
        plan: account.plan,
        renewalDate: account.renewalDate,
        attributes: account.attributes,
      },
      data: request.data,
      sender: this.config.mail.sender,
      unsubscribeUrl: unsubscribe,
      preferencesUrl: preferences,
      locale,
    };
    const data: RenderData = { locale, timeZone: recipient.timeZone, nowMs: this.clock.now().getTime() };
    const runtime = { data, allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

    const subject = oneLine(compiled.subject(context, runtime));
    const preheader = compiled.preheader === null ? null : oneLine(compiled.preheader(context, runtime)) || null;
    let html = compiled.html({ ...context, preheader: preheader ?? '' }, runtime);
    let text = compiled.text(context, runtime);
    let links: string[] = [];
    if (request.tracking.clicks) {
      const messageId = request.messageId;
      const clickUrls: string[] = [];
      const rewritten = rewriteLinks(html, {
        clickUrl: (l) => {
          const url = `${base}/t/c/${this.signer.sign({ k: 'c', m: messageId, l })}`;
          clickUrls.push(url);
          return url;
        },
        keepDirect: new Set([unsubscribe, preferences]),
      });
      html = rewritten.html;
      links = rewritten.links;
      text = rewriteTextLinks(text, links, clickUrls);
    }
    text = tidyText(text);
    if (request.tracking.opens) {
      html = addOpenPixel(html, `${base}/t/o/${this.signer.sign({ k: 'o', m: request.messageId })}.gif`);
    }
    return {
      template: t.id,
      locale,
      kind: t.kind,
      topic: t.topic,
      subject,
      preheader,
      html,
      text,
      links,
      unsubscribeUrl: unsubscribe,
    };
  }

  /** Renders a template for a sample recipient (previews, the template check). */
  async renderPreview(template: string, locale: Locale, sample: PreviewSample = {}): Promise<RenderedMessage> {
    const t = this.catalog.templates.get(template);
    if (t === undefined) throw new Error(`unknown template ${template}`);
    const now = this.clock.now();
    const renewal = new Date(now.getTime() + 30 * 86_400_000).toISOString().slice(0, 10);
    const ja = locale === 'ja';
    return this.render({
      template,
      locale,
      messageId: sample.messageId ?? PREVIEW_MESSAGE_ID,
      recipient: {
        contactId: PREVIEW_MESSAGE_ID,
        externalId: 'sample-contact',
        name: ja ? '山田 花子' : 'Alex Morgan',
        email: 'sample@example.com',
        timeZone: ja ? 'Asia/Tokyo' : this.config.defaults.timeZone,
        roles: ['admin'],
        attributes: {},
        ...sample.recipient,
      },
      account: {
        accountId: PREVIEW_MESSAGE_ID,
        externalId: 'sample-account',
        name: ja ? '株式会社サンプル' : 'Example Inc.',
        plan: 'Business',
        renewalDate: renewal,
        attributes: {},
        ...sample.account,
      },
      data: { sentAt: now.toISOString(), milestone: 100, activeUsers: 42, ...t.sampleData, ...sample.data },
      tracking: sample.tracking ?? { opens: false, clicks: false },
    });
  }

  private compiledFor(t: TemplateDefinition, locale: Locale): Promise<CompiledTemplate> {
    const source = this.sources.get(`${t.id}|${locale}`);
    if (source === undefined) return Promise.reject(new Error(`template ${t.id} has no ${locale} source`));
    const key = `${t.id}|${locale}|${source.hash}|${t.subject[locale] ?? ''}|${t.preheader[locale] ?? ''}`;
    let entry = this.compiled.get(key);
    if (entry === undefined) {
      entry = this.compile(t, locale, source);
      this.compiled.set(key, entry);
      // A failed compilation is not cached: the next render retries (after a fix and reload).
      entry.catch(() => this.compiled.delete(key));
    }
    return entry;
  }

  private async compile(t: TemplateDefinition, locale: Locale, source: AssembledSource): Promise<CompiledTemplate> {
    this.compilations += 1;
    const output = await this.compileMjml(source.mjml);
    if (output.errors.length > 0) {
      throw new TemplateError(
        output.errors.map((e) => ({
          ...(source.origins[e.line - 1] ?? { file: t.id, line: 0 }),
          message: `MJML: ${e.message}`,
        })),
      );
    }
    const options = { knownHelpers, knownHelpersOnly: true, strict: false };
    const html = this.hbs.compile(output.html, options);
    const text = this.hbs.compile(this.toText(output.html), { ...options, noEscape: true });
    const subject = this.hbs.compile(t.subject[locale] ?? '', { ...options, noEscape: true });
    const preheaderSource = t.preheader[locale];
    const preheader =
      preheaderSource === undefined ? null : this.hbs.compile(preheaderSource, { ...options, noEscape: true });
    // Handlebars compiles lazily: force it now so syntax errors surface here, not per recipient.
    const probe = { data: { locale, timeZone: 'UTC', nowMs: 0 } satisfies RenderData };
    html({}, probe);
    text({}, probe);
    subject({}, probe);
    preheader?.({}, probe);
    return { html, text, subject, preheader };
  }
}

/** At most one blank line in a row, no trailing spaces, no blank start or end. */
function tidyText(value: string): string {
  return value
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Subjects and preheaders are single-line plain text. */
function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}
