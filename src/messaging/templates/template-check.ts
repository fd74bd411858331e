import Handlebars from 'handlebars';
import { SystemClock } from '../../common/clock';
import { TrackingTokenSigner } from '../../tracking/tracking-token.signer';
import type { Locale } from '../messaging.contracts';
import { compileMjml, type MjmlCompile } from './mjml-compiler';
import {
  assembleSource,
  type AssembledSource,
  loadCatalog,
  LOCALES,
  type SourceFile,
  type TemplateDefinition,
  TemplateError,
  templateLocales,
  type TemplateProblem,
} from './template-catalog';
import { KNOWN_HELPERS } from './template-helpers';
import { TemplateRenderer } from './template-renderer';

/** Variables a template may use, and the fields of each (null: free-form below it). */
const ROOTS: Record<string, ReadonlySet<string> | null | 'scalar'> = {
  contact: new Set(['name', 'externalId', 'roles', 'attributes']),
  account: new Set(['name', 'plan', 'renewalDate', 'attributes']),
  sender: new Set(['name', 'postalAddress', 'contact']),
  data: null,
  unsubscribeUrl: 'scalar',
  preferencesUrl: 'scalar',
  locale: 'scalar',
  /** Set by the renderer for layouts (the template's preheader). */
  preheader: 'scalar',
};
/** Fields whose content is free-form (`contact.attributes.plan_tier`). */
const FREE_FIELDS = new Set(['attributes']);
const CONTEXT_CHANGING_HELPERS = new Set(['each', 'with']);

/** Values the check renders with, then looks for in the output (the legal footer). */
export const CHECK_SENDER = {
  name: 'CHECK-SENDER-NAME',
  postalAddress: 'CHECK-SENDER-POSTAL-ADDRESS',
  contact: 'CHECK-SENDER-CONTACT',
} as const;
const CHECK_BASE_URL = 'https://tend-check.invalid';
const CHECK_MESSAGE_ID = '00000000-0000-4000-8000-00000000c0de';

export interface CheckOptions {
  /** The locale every template must have (locale fallback target). */
  defaultLocale: Locale;
  defaultTimeZone?: string;
  compile?: MjmlCompile;
}

/**
 * Checks every template under `dir`: manifest and file layout, Handlebars syntax and
 * variables (against the known roots), MJML errors, Handlebars dropped by MJML, and
 * the legal footer of advertising mail (rendered, then searched). Returns every
 * problem, sorted by file and line; empty means all good.
 */
export async function checkTemplates(dir: string, options: CheckOptions): Promise<TemplateProblem[]> {
  const compile = options.compile ?? compileMjml;
  const catalog = loadCatalog(dir);
  const problems: TemplateProblem[] = [...catalog.problems];
  const checkedFiles = new Set<string>();
  const renderable: { t: TemplateDefinition; locale: Locale }[] = [];

  for (const t of catalog.templates.values()) {
    const locales = templateLocales(t);
    if (!locales.includes(options.defaultLocale)) {
      problems.push({
        file: t.manifestFile,
        line: 1,
        message: `no ${options.defaultLocale} version (the default locale every other locale falls back to)`,
      });
    }
    for (const locale of LOCALES) {
      for (const field of ['subject', 'preheader'] as const) {
        const text = t[field][locale];
        if (text === undefined) continue;
        const line = t.manifestLines[`${field}.${locale}`] ?? 1;
        problems.push(...checkHandlebars({ file: t.manifestFile, text }, line - 1));
      }
    }
    for (const locale of locales) {
      let source: AssembledSource;
      try {
        source = assembleSource(catalog, t, locale);
      } catch (error) {
        if (error instanceof TemplateError) {
          problems.push(...error.problems);
          continue;
        }
        throw error;
      }
      let filesOk = true;
      for (const file of source.files) {
        const found = checkHandlebars(file, 0);
        if (found.length > 0) filesOk = false;
        if (!checkedFiles.has(file.file)) problems.push(...found);
        checkedFiles.add(file.file);
      }
      if (!filesOk) continue;
      const compiled = await compile(source.mjml);
      if (compiled.errors.length > 0) {
        for (const e of compiled.errors) {
          const origin = source.origins[e.line - 1] ?? { file: t.manifestFile, line: 0 };
          problems.push({ ...origin, message: `MJML: ${e.message}` });
        }
        continue;
      }
      const dropped = droppedExpressions(source, compiled.html);
      problems.push(...dropped);
      if (dropped.length === 0) renderable.push({ t, locale });
    }
  }

  if (renderable.length > 0) problems.push(...(await checkRendered(dir, options, compile, renderable)));
  return dedupe(problems).sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** Renders with sample data; advertising mail must show the sender block and a direct unsubscribe link. */
async function checkRendered(
  dir: string,
  options: CheckOptions,
  compile: MjmlCompile,
  renderable: { t: TemplateDefinition; locale: Locale }[],
): Promise<TemplateProblem[]> {
  const problems: TemplateProblem[] = [];
  const signer = new TrackingTokenSigner({
    keys: [{ kid: 'check', secret: 'template-check-only', retiredAt: null }],
    gracePeriodMs: 0,
  });
  const renderer = new TemplateRenderer(
    {
      http: { publicBaseUrl: CHECK_BASE_URL },
      mail: { sender: { ...CHECK_SENDER } },
      defaults: { locale: options.defaultLocale, timeZone: options.defaultTimeZone ?? 'Asia/Tokyo' },
    },
    signer,
    new SystemClock(),
    { dir, compile },
  );
  renderer.load(false);
  for (const { t, locale } of renderable) {
    const file = t.bodies[locale]?.file ?? t.manifestFile;
    try {
      const message = await renderer.renderPreview(t.id, locale, {
        messageId: CHECK_MESSAGE_ID,
        tracking: { opens: true, clicks: true },
      });
      if (t.kind !== 'advertising') continue;
      const missing: string[] = [];
      if (!message.html.includes(CHECK_SENDER.name)) missing.push('sender name ({{sender.name}})');
      if (!message.html.includes(CHECK_SENDER.postalAddress)) missing.push('postal address ({{sender.postalAddress}})');
      if (!message.html.includes(CHECK_SENDER.contact)) missing.push('contact point ({{sender.contact}})');
      if (
        !message.html.includes(`href="${message.unsubscribeUrl}"`) ||
        !message.text.includes(message.unsubscribeUrl)
      ) {
        missing.push('unsubscribe link (<a href="{{unsubscribeUrl}}">)');
      }
      if (missing.length > 0) {
        problems.push({
          file,
          line: 1,
          message: `advertising mail without the legal footer (特定電子メール法): missing ${missing.join(', ')}`,
        });
      }
    } catch (error) {
      if (error instanceof TemplateError) problems.push(...error.problems);
      else problems.push({ file, line: 1, message: `render failed: ${(error as Error).message}` });
    }
  }
  return problems;
}

/** Handlebars syntax and variable references of one file; `lineOffset` is added to every line. */
export function checkHandlebars(file: SourceFile, lineOffset: number): TemplateProblem[] {
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parse(file.text);
  } catch (error) {
    const message = (error as Error).message;
    const line = /line (\d+)/.exec(message)?.[1];
    return [
      {
        file: file.file,
        line: lineOffset + (line === undefined ? 1 : Number(line)),
        message: `Handlebars: ${message.split('\n')[0]}`,
      },
    ];
  }
  const problems: TemplateProblem[] = [];
  const report = (node: hbs.AST.Node, message: string) =>
    problems.push({ file: file.file, line: lineOffset + (node.loc?.start.line ?? 1), message });

  interface Scope {
    /** Inside #each / #with: relative paths point into an unknown object. */
    relative: boolean;
    blockParams: ReadonlySet<string>;
  }

  const checkPath = (path: hbs.AST.PathExpression, scopes: Scope[]) => {
    const parts = path.parts;
    if (path.data) {
      // @root.x is checked like x; @index, @key, @first... are Handlebars' own.
      if (parts[0] === 'root') checkRootPath(path, parts.slice(1));
      return;
    }
    const inner = scopes[scopes.length - 1 - Math.min(path.depth, scopes.length - 1)] ?? scopes[0];
    const head = parts[0];
    if (head === undefined) return; // `this`
    if (scopes.some((s) => s.blockParams.has(head))) return;
    if (inner?.relative && path.depth < scopes.length - 1) return;
    checkRootPath(path, parts);
  };

  const checkRootPath = (node: hbs.AST.Node, parts: string[]) => {
    const [head, field, ...rest] = parts;
    if (head === undefined) return;
    const spec = ROOTS[head];
    const name = parts.join('.');
    if (spec === undefined) {
      report(
        node,
        `unknown variable "${name}" (known: ${Object.keys(ROOTS).join(', ')}; free-form values go under data.*)`,
      );
    } else if (spec === 'scalar') {
      if (field !== undefined) report(node, `unknown variable "${name}" (${head} has no fields)`);
    } else if (spec !== null && field !== undefined) {
      if (!spec.has(field)) report(node, `unknown variable "${name}" (${head} has ${[...spec].join(', ')})`);
      else if (rest.length > 0 && !FREE_FIELDS.has(field)) report(node, `unknown variable "${name}"`);
    }
  };

  const checkHelper = (path: hbs.AST.PathExpression) => {
    if (!KNOWN_HELPERS.has(path.original)) {
      report(path, `unknown helper "${path.original}" (known: ${[...KNOWN_HELPERS].join(', ')})`);
    }
  };

  const visitExpression = (node: hbs.AST.Expression, scopes: Scope[]) => {
    if (node.type === 'PathExpression') checkPath(node as hbs.AST.PathExpression, scopes);
    else if (node.type === 'SubExpression') visitCall(node as hbs.AST.SubExpression, scopes, true);
  };

  const visitCall = (
    node: { path: hbs.AST.PathExpression | hbs.AST.Literal; params: hbs.AST.Expression[]; hash: hbs.AST.Hash },
    scopes: Scope[],
    forceHelper: boolean,
  ) => {
    const hasArgs = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
    if (node.path.type === 'PathExpression') {
      const path = node.path as hbs.AST.PathExpression;
      if (hasArgs || forceHelper) checkHelper(path);
      else if (!KNOWN_HELPERS.has(path.original)) checkPath(path, scopes);
    }
    for (const p of node.params) visitExpression(p, scopes);
    for (const pair of node.hash?.pairs ?? []) visitExpression(pair.value, scopes);
  };

  const visitProgram = (p: hbs.AST.Program | undefined, scopes: Scope[]) => {
    for (const statement of p?.body ?? []) visitStatement(statement, scopes);
  };

  const visitStatement = (node: hbs.AST.Statement, scopes: Scope[]) => {
    switch (node.type) {
      case 'MustacheStatement':
        visitCall(node as hbs.AST.MustacheStatement, scopes, false);
        break;
      case 'BlockStatement': {
        const block = node as hbs.AST.BlockStatement;
        visitCall(block, scopes, block.params.length > 0);
        const helper = block.path.type === 'PathExpression' ? block.path.original : '';
        const inner: Scope = {
          relative: CONTEXT_CHANGING_HELPERS.has(helper) || !KNOWN_HELPERS.has(helper),
          blockParams: new Set(block.program?.blockParams ?? []),
        };
        visitProgram(block.program, inner.relative || inner.blockParams.size > 0 ? [...scopes, inner] : scopes);
        visitProgram(block.inverse, scopes);
        break;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        report(
          node,
          'Handlebars partials ({{> name}}) are not supported: use <!-- partial:name --> (templates/_partials)',
        );
        break;
      case 'DecoratorBlock':
      case 'Decorator':
        report(node, 'Handlebars decorators are not supported');
        break;
      default:
        break;
    }
  };

  visitProgram(program, [{ relative: false, blockParams: new Set() }]);
  return problems;
}

const MUSTACHE = /\{\{[^{}]*\}\}\}?/g;

/**
 * Handlebars between mj-* tags (outside mj-text, mj-raw...) is silently dropped by
 * MJML: every expression of the source must still be in the compiled HTML.
 */
function droppedExpressions(source: AssembledSource, html: string): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const normalise = (s: string) => s.replace(/\s+/g, ' ');
  const output = normalise(html);
  source.mjml.split('\n').forEach((line, i) => {
    if (line.includes('<!--')) return;
    for (const match of line.matchAll(MUSTACHE)) {
      if (!output.includes(normalise(match[0]))) {
        const origin = source.origins[i] ?? { file: '?', line: i + 1 };
        problems.push({
          ...origin,
          message: `${match[0]} is dropped by MJML: Handlebars between mj-* tags must be wrapped in <mj-raw>`,
        });
      }
    }
  });
  return problems;
}

function dedupe(problems: TemplateProblem[]): TemplateProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}\u0000${p.line}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
