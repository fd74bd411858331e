/**
 * Validates scenario files and the shared catalogue: YAML syntax, the schema, every
 * reference (templates in every locale, segments, facts, event types, step ids) and the
 * step graph. Collects every problem of every file; never stops at the first.
 * PURE: files come in as text, templates as a list; nothing is read here.
 */
import { createHash } from 'node:crypto';
import { isValidTimeZone } from '../../common/time-zone.util';
import {
  type CatalogDefinition,
  catalogSchema,
  type ScenarioDefinition,
  scenarioSchema,
  type Step,
  TEMPLATE_NAME_PATTERN,
} from './scenario.schema';
import { buildStepGraph, loopsWithoutWait, unreachableSteps } from './scenario-graph';
import { translateIssues } from './schema-issues';
import { closest } from './suggest.util';
import { type DataPath, type SourceIssue, sortIssues, YamlSource } from './yaml-source';

export interface SourceFile {
  /** As it should appear in messages (e.g. relative to the working directory). */
  file: string;
  text: string;
}

/** Where an expression sits and what it may use. */
export interface ExpressionUse {
  text: string;
  scope: 'account' | 'contact';
  /** `population`: audience, triggers and segments (SQL over everyone); `enrollment`: steps, goal, exit_when. */
  context: 'population' | 'enrollment';
  /** Send steps of the scenario, for opened()/clicked(). */
  sendStepIds: ReadonlySet<string>;
}

export interface ExpressionProblem {
  /** Offset in the expression text. */
  offset: number;
  message: string;
}

/** The expression language as the validator needs it (see expression/). */
export interface ExpressionLanguage {
  /** Parses and type-checks; returns every problem, and the event types the expression counts (with offsets). */
  check(use: ExpressionUse): { problems: ExpressionProblem[]; eventTypes: { type: string; offset: number }[] };
  /** The type of a fact (`date`, `number`...), or undefined when there is no such fact. */
  factType(name: string): string | undefined;
  /** Every fact name, for suggestions. */
  factNames(): readonly string[];
}

export interface ValidationEnvironment {
  /** Template name -> locales it has (from templates/). */
  templates: ReadonlyMap<string, readonly string[]>;
  /** Every locale a template must have. */
  locales: readonly string[];
  /** Event types Tend writes itself (email.opened, site.page_viewed, ...). */
  builtInEventTypes: readonly string[];
  /** Built for the catalogue (segments and page groups are known to the language). */
  expressions: (catalog: CatalogDefinition) => ExpressionLanguage;
}

export interface ValidScenario {
  file: string;
  definition: ScenarioDefinition;
  /** sha256 of the definition's canonical JSON: formatting and comments do not make a new version. */
  versionHash: string;
}

export interface ValidationResult {
  scenarios: ValidScenario[];
  catalog: CatalogDefinition;
  issues: SourceIssue[];
}

/** Stored dates a date trigger can count from. */
const DATE_TRIGGER_FACTS = ['account.renewal_date', 'account.contract_start'];

const EMPTY_CATALOG: CatalogDefinition = { segments: {}, page_groups: {}, events: {} };

export function validateScenarios(
  files: readonly SourceFile[],
  catalogFile: SourceFile | undefined,
  env: ValidationEnvironment,
): ValidationResult {
  const issues: SourceIssue[] = [];
  const catalog = catalogFile ? validateCatalog(catalogFile, env, issues) : EMPTY_CATALOG;
  const language = env.expressions(catalog);
  const scenarios: ValidScenario[] = [];
  const ids = new Map<string, string>();
  for (const file of files) {
    const scenario = validateScenarioFile(file, catalog, language, env, issues);
    if (scenario === undefined) continue;
    const previous = ids.get(scenario.definition.id);
    if (previous !== undefined) {
      issues.push(
        new YamlSource(file.file, file.text).issue(
          ['id'],
          `duplicate scenario id '${scenario.definition.id}' (also in ${previous})`,
        ),
      );
      continue;
    }
    ids.set(scenario.definition.id, file.file);
    scenarios.push(scenario);
  }
  return { scenarios, catalog, issues: sortIssues(issues) };
}

function parseWith<T>(
  source: YamlSource,
  schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: unknown[] } } },
  issues: SourceIssue[],
): T | undefined {
  issues.push(...source.issues);
  if (source.issues.length > 0) return undefined;
  if (source.data === null || typeof source.data !== 'object' || Array.isArray(source.data)) {
    issues.push(source.issue([], 'must be a YAML mapping (key: value lines)'));
    return undefined;
  }
  const parsed = schema.safeParse(source.data);
  if (!parsed.success) {
    issues.push(...translateIssues(parsed.error.issues as Parameters<typeof translateIssues>[0], source));
    return undefined;
  }
  return parsed.data;
}

function validateCatalog(file: SourceFile, env: ValidationEnvironment, issues: SourceIssue[]): CatalogDefinition {
  const source = new YamlSource(file.file, file.text);
  const catalog = parseWith(source, catalogSchema, issues) ?? salvageCatalog(source);
  if (catalog === undefined) return EMPTY_CATALOG;
  const language = env.expressions(catalog);
  for (const [name, segment] of Object.entries(catalog.segments)) {
    checkExpression(source, ['segments', name, 'when'], language, issues, {
      text: segment.when,
      scope: segment.scope,
      context: 'population',
      sendStepIds: new Set(),
    });
  }
  for (const type of Object.keys(catalog.events)) {
    if (env.builtInEventTypes.includes(type) || /^(email|handoff|tend)\./.test(type)) {
      issues.push(
        source.issue(
          ['events', type],
          `'${type}' is written by Tend itself; declare your product's event types and site.<name> events from tend.track`,
          'key',
        ),
      );
    }
  }
  return catalog;
}

/**
 * A catalogue with a mistake in one section still lends the scenarios its other sections,
 * so one typo in page_groups does not turn every declared event into "unknown".
 */
function salvageCatalog(source: YamlSource): CatalogDefinition | undefined {
  const data = source.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const raw = data as Record<string, unknown>;
  const section = <K extends 'segments' | 'page_groups' | 'events'>(key: K): CatalogDefinition[K] => {
    const parsed = catalogSchema.shape[key].safeParse(raw[key]);
    return (parsed.success ? parsed.data : {}) as CatalogDefinition[K];
  };
  return { segments: section('segments'), page_groups: section('page_groups'), events: section('events') };
}

function validateScenarioFile(
  file: SourceFile,
  catalog: CatalogDefinition,
  language: ExpressionLanguage,
  env: ValidationEnvironment,
  issues: SourceIssue[],
): ValidScenario | undefined {
  const source = new YamlSource(file.file, file.text);
  const definition = parseWith(source, scenarioSchema, issues);
  if (definition === undefined) {
    if (source.issues.length === 0) checkRawReferences(source, catalog, language, env, issues);
    return undefined;
  }
  const before = issues.length;
  const push = (path: DataPath, message: string, which: 'value' | 'key' = 'value') =>
    issues.push(source.issue(path, message, which));

  const base = file.file.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/, '');
  if (base !== definition.id) push(['id'], `id '${definition.id}' must match the file name (${base}.yaml)`);

  const graph = buildStepGraph(definition.steps);
  const sendStepIds = new Set(graph.all.filter((n) => n.kind === 'send').map((n) => n.step.id));
  const knownEvents = new Set([...env.builtInEventTypes, ...Object.keys(catalog.events), ...(definition.events ?? [])]);
  const checkEventType = (path: DataPath, type: string) => {
    if (type.startsWith('site.')) {
      // Site events belong to a visitor (linked to a contact when known), not to a contact or account row.
      push(
        path,
        `site events such as '${type}' cannot trigger, be waited for or be counted yet; use visits('<page group>', <window>) for page views`,
      );
      return;
    }
    if (knownEvents.has(type)) return;
    const suggestion = closest(type, knownEvents);
    push(path, unknownEventType(type, suggestion));
  };
  const subject = definition.subject;
  const expression = (path: DataPath, text: string, context: ExpressionUse['context']) =>
    checkExpression(source, path, language, issues, { text, scope: subject, context, sendStepIds }, checkEventType);

  // Audience.
  const audience = definition.audience;
  if (audience?.roles && subject === 'account') {
    push(
      ['audience', 'roles'],
      'roles filter contacts: use it with subject: contact, or choose recipients with send: to: { role: [...] }',
    );
  }
  audience?.segments?.forEach((name, i) =>
    checkSegment(catalog, name, subject, (m) => push(['audience', 'segments', i], m)),
  );
  if (audience?.when !== undefined) expression(['audience', 'when'], audience.when, 'population');

  // Trigger.
  const trigger = definition.trigger;
  if ('condition' in trigger) expression(['trigger', 'condition', 'when'], trigger.condition.when, 'population');
  if ('event' in trigger) checkEventType(['trigger', 'event', 'type'], trigger.event.type);
  if ('date' in trigger) {
    const type = language.factType(trigger.date.fact);
    if (type === undefined) {
      const suggestion = closest(trigger.date.fact, language.factNames());
      push(
        ['trigger', 'date', 'fact'],
        `unknown fact '${trigger.date.fact}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
      );
    } else if (type === 'date' && !DATE_TRIGGER_FACTS.includes(trigger.date.fact)) {
      push(
        ['trigger', 'date', 'fact'],
        `date triggers count from a stored date: ${DATE_TRIGGER_FACTS.join(' or ')} (for days since activity use a condition trigger)`,
      );
    } else if (type !== 'date') {
      push(
        ['trigger', 'date', 'fact'],
        `'${trigger.date.fact}' is a ${type}, not a date (date triggers: ${DATE_TRIGGER_FACTS.join(', ')})`,
      );
    } else if (subject === 'account' && trigger.date.fact.startsWith('contact.')) {
      push(['trigger', 'date', 'fact'], 'a contact fact cannot trigger an account scenario');
    }
    if (trigger.date.offsets.length > 1 && 'once_per' in definition.entry) {
      push(
        ['trigger', 'date', 'offsets'],
        `with entry once_per ${definition.entry.once_per}, only the first of ${trigger.date.offsets.length} offsets can ever enroll: use entry: { again_after: <days>, per: ${definition.entry.once_per} }`,
      );
    }
    const seen = new Set<number>();
    trigger.date.offsets.forEach((offset, i) => {
      const days = Number(offset.replace(/d$/, ''));
      if (seen.has(days)) push(['trigger', 'date', 'offsets', i], `offset ${offset} is listed twice`);
      seen.add(days);
    });
  }
  if ('segment' in trigger) {
    checkSegment(catalog, trigger.segment.entered, subject, (m) => push(['trigger', 'segment', 'entered'], m));
  }

  // Goal and exit.
  if (definition.goal) expression(['goal', 'when'], definition.goal.when, 'enrollment');
  if (definition.exit_when !== undefined) expression(['exit_when'], definition.exit_when, 'enrollment');
  if (definition.time_zone !== undefined && !isValidTimeZone(definition.time_zone)) {
    push(['time_zone'], `unknown time zone '${definition.time_zone}' (use an IANA name such as Asia/Tokyo)`);
  }

  // Steps: ids, references, graph.
  const firstUse = new Map<string, DataPath>();
  for (const node of graph.all) {
    const id = node.step.id;
    const first = firstUse.get(id);
    if (first !== undefined) {
      push([...node.path, 'id'], `duplicate step id '${id}' (first used at line ${source.positionOf(first).line})`);
    } else {
      firstUse.set(id, [...node.path, 'id']);
    }
    checkStep(node.step, node.path, {
      push,
      subject,
      env,
      graph,
      checkEventType,
      expression: (path, text) => expression(path, text, 'enrollment'),
    });
  }
  for (const node of unreachableSteps(graph)) {
    push(
      node.path,
      `step '${node.step.id}' can never be reached (it follows an exit or a goto, or every branch before it ends)`,
    );
  }
  for (const loop of loopsWithoutWait(graph)) {
    const back = loop.find((n) => n.kind === 'goto') ?? loop[0]!;
    const ids = loop.map((n) => n.step.id);
    push(
      back.path,
      `loop without a wait: ${ids.join(' -> ')} -> ${ids[0]} would repeat at once; add a wait or wait_for`,
    );
  }

  if (issues.length > before) return undefined;
  return { file: file.file, definition, versionHash: versionHash(definition) };
}

interface StepCheck {
  push: (path: DataPath, message: string) => void;
  subject: 'account' | 'contact';
  env: ValidationEnvironment;
  graph: ReturnType<typeof buildStepGraph>;
  checkEventType: (path: DataPath, type: string) => void;
  expression: (path: DataPath, text: string) => void;
}

function checkStep(step: Step, path: DataPath, c: StepCheck): void {
  if ('send' in step) {
    checkTemplate(c.env, step.send, (m) => c.push([...path, 'send'], m));
    const to = step.to ?? 'contact';
    if (to === 'contact' && c.subject === 'account') {
      c.push(
        step.to === undefined ? path : [...path, 'to'],
        'an account scenario has no single contact: say to: { role: [...] }',
      );
    }
    if (to === 'owner') {
      c.push(
        [...path, 'to'],
        "templates go to contacts (their unsubscribe link, their consent): to tell the owner CSM, use a handoff step (handoff: { to: owner, reason: ..., kind: request, priority: low, note: '...' })",
      );
    }
  } else if ('wait_for' in step) {
    c.checkEventType([...path, 'wait_for', 'event'], step.wait_for.event);
  } else if ('if' in step) {
    c.expression([...path, 'if'], step.if);
  } else if ('split' in step) {
    const names = new Set<string>();
    step.split.variants.forEach((v, i) => {
      if (names.has(v.name)) c.push([...path, 'split', 'variants', i, 'name'], `duplicate variant name '${v.name}'`);
      names.add(v.name);
    });
    if (step.split.variants.length === 1 && (step.split.holdout ?? 0) === 0) {
      c.push([...path, 'split'], 'a split needs two variants, or one variant and a holdout');
    }
  } else if ('goto' in step) {
    const target = c.graph.nodes.get(step.goto);
    if (target === undefined) {
      const suggestion = closest(step.goto, c.graph.nodes.keys());
      c.push(
        [...path, 'goto'],
        `no step with id '${step.goto}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
      );
    } else {
      // Into a split variant from outside it: subjects of another variant would get this variant's steps.
      const variant = variantPrefix(target.path);
      if (variant !== undefined && !startsWith(path, variant)) {
        c.push(
          [...path, 'goto'],
          `goto '${step.goto}' jumps into a split variant from outside it: go to the split step instead`,
        );
      }
    }
  } else if ('set' in step) {
    if (step.set.on === 'contact' && c.subject === 'account')
      c.push([...path, 'set', 'on'], 'an account scenario has no contact to set');
  }
}

/** The path of the innermost split variant's step list holding `path`, if any. */
function variantPrefix(path: DataPath): DataPath | undefined {
  for (let i = path.length - 1; i >= 2; i--) {
    if (path[i] === 'steps' && path[i - 2] === 'variants') return path.slice(0, i + 1);
  }
  return undefined;
}

function startsWith(path: DataPath, prefix: DataPath): boolean {
  return prefix.every((part, i) => path[i] === part);
}

function unknownEventType(type: string, suggestion: string | undefined): string {
  return `unknown event type '${type}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}: declare it under events: in scenarios/_catalog.yaml or in this scenario's events:`;
}

function checkTemplate(env: ValidationEnvironment, name: string, report: (message: string) => void): void {
  const locales = env.templates.get(name);
  if (locales === undefined) {
    const suggestion = closest(name, env.templates.keys());
    report(`no template '${name}' in templates/${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`);
    return;
  }
  const missing = env.locales.filter((l) => !locales.includes(l));
  if (missing.length > 0) {
    report(`template '${name}' has no ${missing.join(', ')} version (templates/${name}/${missing[0]}.mjml)`);
  }
}

/**
 * When the schema refuses a file, the rest of it is still checked as far as its shape
 * allows: templates, expressions and event types found in the raw data, so one wrong key
 * does not hide every other mistake of the file.
 */
function checkRawReferences(
  source: YamlSource,
  catalog: CatalogDefinition,
  language: ExpressionLanguage,
  env: ValidationEnvironment,
  issues: SourceIssue[],
): void {
  const data = source.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return;
  const raw = data as Record<string, unknown>;
  const at = (value: unknown, ...keys: string[]): unknown =>
    keys.reduce<unknown>(
      (v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      value,
    );
  const text = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
  const scope = raw.subject === 'account' ? 'account' : 'contact';
  const declared = Array.isArray(raw.events) ? raw.events.filter((e): e is string => typeof e === 'string') : [];
  const knownEvents = new Set([...env.builtInEventTypes, ...Object.keys(catalog.events), ...declared]);
  const eventType = (path: DataPath, type: unknown) => {
    if (!text(type) || knownEvents.has(type) || type.startsWith('site.')) return;
    const suggestion = closest(type, knownEvents);
    issues.push(source.issue(path, unknownEventType(type, suggestion)));
  };
  const steps: { step: Record<string, unknown>; path: DataPath }[] = [];
  const walk = (list: unknown, path: DataPath) => {
    if (!Array.isArray(list)) return;
    list.forEach((item, i) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) return;
      const step = item as Record<string, unknown>;
      const here = [...path, i];
      steps.push({ step, path: here });
      for (const key of ['then', 'else', 'on_timeout']) walk(step[key], [...here, key]);
      const variants = at(step, 'split', 'variants');
      if (Array.isArray(variants))
        variants.forEach((v, vi) => walk(at(v, 'steps'), [...here, 'split', 'variants', vi, 'steps']));
    });
  };
  walk(raw.steps, ['steps']);
  const sendStepIds = new Set(
    steps.filter((s) => text(s.step.send) && text(s.step.id)).map((s) => s.step.id as string),
  );
  const expression = (path: DataPath, value: unknown, context: ExpressionUse['context']) => {
    if (text(value)) {
      checkExpression(source, path, language, issues, { text: value, scope, context, sendStepIds }, (p, type) =>
        eventType(p, type),
      );
    }
  };
  expression(['audience', 'when'], at(raw, 'audience', 'when'), 'population');
  expression(['trigger', 'condition', 'when'], at(raw, 'trigger', 'condition', 'when'), 'population');
  eventType(['trigger', 'event', 'type'], at(raw, 'trigger', 'event', 'type'));
  expression(['goal', 'when'], at(raw, 'goal', 'when'), 'enrollment');
  expression(['exit_when'], raw.exit_when, 'enrollment');
  for (const { step, path } of steps) {
    if (text(step.send) && TEMPLATE_NAME_PATTERN.test(step.send)) {
      checkTemplate(env, step.send, (m) => issues.push(source.issue([...path, 'send'], m)));
    }
    expression([...path, 'if'], step.if, 'enrollment');
    eventType([...path, 'wait_for', 'event'], at(step, 'wait_for', 'event'));
  }
}

function checkSegment(
  catalog: CatalogDefinition,
  name: string,
  subject: 'account' | 'contact',
  report: (m: string) => void,
): void {
  const segment = catalog.segments[name];
  if (segment === undefined) {
    const suggestion = closest(name, Object.keys(catalog.segments));
    report(
      `unknown segment '${name}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}: define it under segments: in scenarios/_catalog.yaml`,
    );
  } else if (segment.scope === 'contact' && subject === 'account') {
    report(`segment '${name}' is about contacts; an account scenario can only use account segments`);
  }
}

function checkExpression(
  source: YamlSource,
  path: DataPath,
  language: ExpressionLanguage,
  issues: SourceIssue[],
  use: ExpressionUse,
  checkEventType?: (path: DataPath, type: string, offset: number) => void,
): void {
  const result = language.check(use);
  for (const problem of result.problems) {
    issues.push({ file: source.file, ...source.positionInString(path, problem.offset), message: problem.message });
  }
  if (checkEventType) {
    for (const ref of result.eventTypes) {
      const before = issues.length;
      checkEventType(path, ref.type, ref.offset);
      // Point at the type inside the expression, not at the start of the value.
      for (let i = before; i < issues.length; i++)
        issues[i] = { ...issues[i]!, ...source.positionInString(path, ref.offset) };
    }
  }
}

/** Canonical JSON (sorted keys) hashed: the version an enrollment keeps. */
export function versionHash(definition: ScenarioDefinition): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
