import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { MESSAGE_KINDS, type MessageKind } from '../message.entity';
import type { Locale } from '../messaging.contracts';

/**
 * Template files on disk:
 * ```
 * templates/
 *   _layouts/<layout>.mjml             full <mjml> document with a `<!-- body -->` slot
 *   _partials/<name>.<locale>.mjml     MJML fragment, or <name>.mjml for every locale
 *   <group>/<name>/template.yaml       kind, topic, layout, subject/preheader per locale
 *   <group>/<name>/<locale>.mjml       body: MJML fragment (mj-section...) with Handlebars
 * ```
 * `<!-- partial:NAME -->` in a layout or body is replaced by the partial before MJML
 * runs (partials may include partials, up to a small depth).
 */
export const LOCALES: readonly Locale[] = ['ja', 'en'];
export const BODY_SLOT = '<!-- body -->';
const PARTIAL_PATTERN = /<!--\s*partial:([A-Za-z0-9_-]+)\s*-->/g;
const MAX_PARTIAL_DEPTH = 4;
const TEMPLATE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9_-]*$/;

/** One problem in the template files; `line` is 1-based, 0 when unknown. */
export interface TemplateProblem {
  file: string;
  line: number;
  message: string;
}

export class TemplateError extends Error {
  constructor(readonly problems: TemplateProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'TemplateError';
  }
}

export function formatProblem(problem: TemplateProblem): string {
  return `${problem.file}:${problem.line}: ${problem.message}`;
}

const localized = z.object({ ja: z.string().min(1).optional(), en: z.string().min(1).optional() }).strict();

export const templateManifestSchema = z
  .object({
    kind: z.enum(MESSAGE_KINDS),
    topic: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'topic must be snake_case, e.g. product_tips')
      .nullable()
      .optional(),
    layout: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default('default'),
    description: z.string().optional(),
    subject: localized.refine((s) => s.ja !== undefined || s.en !== undefined, 'subject needs at least one locale'),
    preheader: localized.optional(),
    /** Sample `data` for previews and the template check. */
    sample: z
      .object({ data: z.record(z.string(), z.unknown()).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.kind === 'advertising' && (m.topic === undefined || m.topic === null)) {
      ctx.addIssue({
        code: 'custom',
        path: ['topic'],
        message: 'advertising templates need a topic (e.g. product_tips)',
      });
    }
  });
export type TemplateManifest = z.infer<typeof templateManifestSchema>;

/** A source file with its path relative to the templates root (for messages). */
export interface SourceFile {
  file: string;
  text: string;
}

export interface TemplateDefinition {
  id: string;
  kind: MessageKind;
  topic: string | null;
  layout: string;
  manifestFile: string;
  /** Line of each `subject.<locale>` / `preheader.<locale>` value in template.yaml. */
  manifestLines: Record<string, number>;
  subject: Partial<Record<Locale, string>>;
  preheader: Partial<Record<Locale, string>>;
  bodies: Partial<Record<Locale, SourceFile>>;
  sampleData: Record<string, unknown>;
}

/** Where a line of the assembled MJML came from. */
export interface LineOrigin {
  file: string;
  line: number;
}

export interface AssembledSource {
  mjml: string;
  /** Index i: origin of line i+1 of `mjml`. */
  origins: LineOrigin[];
  /** Every file that went into it (for AST checks with exact lines). */
  files: SourceFile[];
  hash: string;
}

export interface Catalog {
  root: string;
  templates: Map<string, TemplateDefinition>;
  layouts: Map<string, SourceFile>;
  /** Key `name` (every locale) or `name.locale`. */
  partials: Map<string, SourceFile>;
  problems: TemplateProblem[];
}

function readSource(root: string, path: string): SourceFile {
  return { file: relative(root, path) || path, text: readFileSync(path, 'utf8') };
}

function listDir(path: string): string[] {
  return existsSync(path) ? readdirSync(path).sort() : [];
}

/** Reads every template, layout and partial under `root`; collects problems instead of throwing. */
export function loadCatalog(root: string): Catalog {
  const catalog: Catalog = { root, templates: new Map(), layouts: new Map(), partials: new Map(), problems: [] };
  if (!existsSync(root)) {
    catalog.problems.push({ file: root, line: 0, message: 'templates directory does not exist' });
    return catalog;
  }
  for (const name of listDir(join(root, '_layouts'))) {
    if (name.endsWith('.mjml')) catalog.layouts.set(name.slice(0, -5), readSource(root, join(root, '_layouts', name)));
  }
  for (const name of listDir(join(root, '_partials'))) {
    if (name.endsWith('.mjml') || name.endsWith('.hbs')) {
      catalog.partials.set(name.replace(/\.(mjml|hbs)$/, ''), readSource(root, join(root, '_partials', name)));
    }
  }
  for (const group of listDir(root)) {
    if (group.startsWith('_') || group.startsWith('.') || !statSync(join(root, group)).isDirectory()) continue;
    for (const name of listDir(join(root, group))) {
      const dir = join(root, group, name);
      if (!statSync(dir).isDirectory()) continue;
      const definition = loadTemplate(root, `${group}/${name}`, dir, catalog.problems);
      if (definition !== null) catalog.templates.set(definition.id, definition);
    }
  }
  for (const t of catalog.templates.values()) {
    if (!catalog.layouts.has(t.layout)) {
      catalog.problems.push({
        file: t.manifestFile,
        line: t.manifestLines.layout ?? 1,
        message: `unknown layout "${t.layout}"`,
      });
    }
  }
  return catalog;
}

function loadTemplate(root: string, id: string, dir: string, problems: TemplateProblem[]): TemplateDefinition | null {
  const manifestPath = join(dir, 'template.yaml');
  const manifestFile = relative(root, manifestPath);
  if (!TEMPLATE_ID_PATTERN.test(id)) {
    problems.push({ file: relative(root, dir), line: 0, message: `template id "${id}" must be lower-case group/name` });
    return null;
  }
  if (!existsSync(manifestPath)) {
    problems.push({ file: manifestFile, line: 0, message: 'missing template.yaml' });
    return null;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(readFileSync(manifestPath, 'utf8'), { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      problems.push({
        file: manifestFile,
        line: e.linePos?.[0]?.line ?? 1,
        message: `YAML: ${e.message.split('\n')[0]}`,
      });
    }
    return null;
  }
  const parsed = templateManifestSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String);
      problems.push({
        file: manifestFile,
        line: lineOf(doc, lineCounter, path),
        message: `${path.length > 0 ? `${path.join('.')}: ` : ''}${issue.message}`,
      });
    }
    return null;
  }
  const m = parsed.data;
  const manifestLines: Record<string, number> = { layout: lineOf(doc, lineCounter, ['layout']) };
  const bodies: Partial<Record<Locale, SourceFile>> = {};
  for (const locale of LOCALES) {
    const bodyPath = join(dir, `${locale}.mjml`);
    if (existsSync(bodyPath)) bodies[locale] = readSource(root, bodyPath);
    manifestLines[`subject.${locale}`] = lineOf(doc, lineCounter, ['subject', locale]);
    manifestLines[`preheader.${locale}`] = lineOf(doc, lineCounter, ['preheader', locale]);
    if (bodies[locale] !== undefined && m.subject[locale] === undefined) {
      problems.push({
        file: manifestFile,
        line: lineOf(doc, lineCounter, ['subject']),
        message: `subject.${locale} is missing but ${locale}.mjml exists`,
      });
    }
    if (bodies[locale] === undefined && m.subject[locale] !== undefined) {
      problems.push({
        file: manifestFile,
        line: manifestLines[`subject.${locale}`] ?? 1,
        message: `subject.${locale} is set but ${locale}.mjml does not exist`,
      });
    }
  }
  for (const extra of listDir(dir)) {
    if (extra !== 'template.yaml' && !LOCALES.some((l) => extra === `${l}.mjml`)) {
      problems.push({
        file: relative(root, join(dir, extra)),
        line: 0,
        message: 'unexpected file (expected template.yaml, ja.mjml, en.mjml)',
      });
    }
  }
  return {
    id,
    kind: m.kind,
    topic: m.topic ?? null,
    layout: m.layout,
    manifestFile,
    manifestLines,
    subject: m.subject,
    preheader: m.preheader ?? {},
    bodies,
    sampleData: m.sample?.data ?? {},
  };
}

/** Line of the value at `path` in the YAML document, or of its nearest existing parent. */
function lineOf(doc: Document, lineCounter: LineCounter, path: string[]): number {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node !== undefined && node !== null && (isScalar(node) || isMap(node)) && node.range) {
      return lineCounter.linePos(node.range[0]).line;
    }
  }
  return 1;
}

/** Locales a template has a body and subject in. */
export function templateLocales(t: TemplateDefinition): Locale[] {
  return LOCALES.filter((l) => t.bodies[l] !== undefined && t.subject[l] !== undefined);
}

/** The locale to render: the wanted one if the template has it, else the default, else any. */
export function resolveLocale(t: TemplateDefinition, wanted: Locale, fallback: Locale): Locale | null {
  const available = templateLocales(t);
  if (available.includes(wanted)) return wanted;
  if (available.includes(fallback)) return fallback;
  return available[0] ?? null;
}

/**
 * The MJML document of one template in one locale: the layout with the body in its
 * slot and every partial expanded, plus where each line came from.
 */
export function assembleSource(catalog: Catalog, t: TemplateDefinition, locale: Locale): AssembledSource {
  const layout = catalog.layouts.get(t.layout);
  const body = t.bodies[locale];
  const problems: TemplateProblem[] = [];
  if (layout === undefined)
    throw new TemplateError([{ file: t.manifestFile, line: 1, message: `unknown layout "${t.layout}"` }]);
  if (body === undefined) throw new TemplateError([{ file: t.manifestFile, line: 1, message: `no ${locale}.mjml` }]);
  if (!layout.text.includes(BODY_SLOT))
    problems.push({ file: layout.file, line: 1, message: `layout has no ${BODY_SLOT} slot` });

  const files = new Map<string, SourceFile>();
  const expand = (source: SourceFile, depth: number): { lines: string[]; origins: LineOrigin[] } => {
    files.set(source.file, source);
    const lines: string[] = [];
    const origins: LineOrigin[] = [];
    source.text.split('\n').forEach((line, i) => {
      const origin = { file: source.file, line: i + 1 };
      const inserts: { at: number; length: number; source: SourceFile | null; name: string }[] = [];
      if (line.includes(BODY_SLOT) && source === layout) {
        inserts.push({ at: line.indexOf(BODY_SLOT), length: BODY_SLOT.length, source: body, name: 'body' });
      }
      for (const match of line.matchAll(PARTIAL_PATTERN)) {
        const name = match[1] ?? '';
        const partial = catalog.partials.get(`${name}.${locale}`) ?? catalog.partials.get(name) ?? null;
        if (partial === null) problems.push({ ...origin, message: `unknown partial "${name}"` });
        else if (depth >= MAX_PARTIAL_DEPTH)
          problems.push({ ...origin, message: `partials nested too deep at "${name}"` });
        inserts.push({
          at: match.index,
          length: match[0].length,
          source: depth >= MAX_PARTIAL_DEPTH ? null : partial,
          name,
        });
      }
      if (inserts.length === 0) {
        lines.push(line);
        origins.push(origin);
        return;
      }
      // The inserted fragment goes on its own lines, between what precedes and follows it.
      inserts.sort((a, b) => a.at - b.at);
      let cursor = 0;
      for (const insert of inserts) {
        lines.push(line.slice(cursor, insert.at));
        origins.push(origin);
        if (insert.source !== null) {
          const inner = expand(insert.source, depth + 1);
          lines.push(...inner.lines);
          origins.push(...inner.origins);
        }
        cursor = insert.at + insert.length;
      }
      lines.push(line.slice(cursor));
      origins.push(origin);
    });
    return { lines, origins };
  };
  const { lines, origins } = expand(layout, 0);
  if (problems.length > 0) throw new TemplateError(problems);
  const mjml = lines.join('\n');
  return {
    mjml,
    origins,
    files: [...files.values()],
    hash: createHash('sha256').update(mjml).digest('hex').slice(0, 16),
  };
}
