/**
 * Turns zod issues into `file:line:col` problems an author understands: a step with the
 * wrong shape is explained as the kind of step it is (not "Invalid input" of a union),
 * unknown keys point at the key and suggest the closest known one. PURE.
 */
import type { z } from 'zod';
import { STEP_KINDS, TRIGGER_KINDS } from './scenario.schema';
import { closest } from './suggest.util';
import type { DataPath, SourceIssue, YamlSource } from './yaml-source';

type Issue = z.core.$ZodIssue;

/** Every key the language knows, for "did you mean" suggestions. */
const KNOWN_KEYS = [
  ...STEP_KINDS,
  ...TRIGGER_KINDS,
  'id',
  'name',
  'description',
  'status',
  'priority',
  'subject',
  'time_zone',
  'audience',
  'tier',
  'lifecycle',
  'roles',
  'segments',
  'when',
  'trigger',
  'check',
  'type',
  'where',
  'count',
  'fact',
  'offsets',
  'at',
  'entered',
  'entry',
  'once_per',
  'again_after',
  'per',
  'goal',
  'within',
  'exit_when',
  'events',
  'migrate_in_flight',
  'during_handoff',
  'steps',
  'to',
  'data',
  'until',
  'event',
  'timeout',
  'on_timeout',
  'then',
  'else',
  'variants',
  'weight',
  'holdout',
  'reason',
  'note',
  'on',
  'attribute',
  'value',
  'role',
  'page_groups',
  'scope',
];

const STEP_LIST_KEYS = new Set(['steps', 'then', 'else', 'on_timeout']);

export function translateIssues(issues: readonly Issue[], source: YamlSource): SourceIssue[] {
  const out: SourceIssue[] = [];
  for (const issue of issues) translate(issue, [], source, out);
  // One problem per place and message.
  const seen = new Set<string>();
  return out.filter((i) => {
    const key = `${i.line}:${i.col}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function translate(issue: Issue, prefix: DataPath, source: YamlSource, out: SourceIssue[]): void {
  const path: DataPath = [...prefix, ...(issue.path as (string | number)[])];
  const value = valueAt(source.data, path);
  switch (issue.code) {
    case 'invalid_union': {
      const chosen = chooseBranch(issue.errors, path, value, source, out);
      if (chosen !== undefined) for (const sub of chosen) translate(sub, path, source, out);
      return;
    }
    case 'unrecognized_keys':
      for (const key of issue.keys) {
        const suggestion = closest(key, KNOWN_KEYS);
        out.push({
          file: source.file,
          ...source.keyPosition(path, key),
          message: `unknown key '${key}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
        });
      }
      return;
    case 'invalid_type': {
      if (value === undefined) {
        const last = path[path.length - 1];
        out.push(source.issue(path.slice(0, -1), `missing required key '${String(last)}'`));
        return;
      }
      out.push(source.issue(path, `${where(path)}expected ${article(issue.expected)}, got ${describeValue(value)}`));
      return;
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v)).join(', ');
      const suggestion = typeof value === 'string' ? closest(value, issue.values.map(String)) : undefined;
      out.push(
        source.issue(
          path,
          `${where(path)}${issue.values.length === 1 ? `must be ${options}` : `must be one of ${options}`}${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
        ),
      );
      return;
    }
    case 'too_small':
    case 'too_big': {
      const bound = String(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      const message =
        issue.origin === 'array'
          ? `must contain ${word} ${bound} item${bound === '1' ? '' : 's'}`
          : issue.origin === 'string'
            ? issue.message
            : `must be ${word} ${bound}`;
      out.push(source.issue(path, `${where(path)}${message}`));
      return;
    }
    default:
      out.push(source.issue(path, `${where(path)}${issue.message}`));
  }
}

/**
 * A union failed. For steps and triggers the kind is the one action key present:
 * explain that kind's problems. Elsewhere take the branch that got furthest.
 */
function chooseBranch(
  branches: Issue[][],
  path: DataPath,
  value: unknown,
  source: YamlSource,
  out: SourceIssue[],
): Issue[] | undefined {
  if (value === undefined) {
    out.push(source.issue(path.slice(0, -1), `missing required key '${String(path[path.length - 1])}'`));
    return undefined;
  }
  const parentKey = path[path.length - 2];
  const isStep =
    typeof path[path.length - 1] === 'number' && typeof parentKey === 'string' && STEP_LIST_KEYS.has(parentKey);
  const isTrigger = path.length === 1 && path[0] === 'trigger';
  if ((isStep || isTrigger) && isObject(value)) {
    const kinds: readonly string[] = isStep ? STEP_KINDS : TRIGGER_KINDS;
    const present = kinds.filter((k) => k in value);
    const what = isStep ? 'a step' : 'the trigger';
    if (present.length === 0) {
      const stray = Object.keys(value).filter((k) => k !== 'id');
      const hint = stray.map((k) => ({ k, s: closest(k, kinds) })).find((x) => x.s !== undefined);
      out.push(
        source.issue(
          path,
          `${what} needs exactly one of ${kinds.join(', ')}${hint ? `; '${hint.k}' is not one (did you mean '${hint.s}'?)` : ''}`,
        ),
      );
      return undefined;
    }
    if (present.length > 1) {
      out.push(
        source.issue(
          path,
          `${what} has more than one of ${present.join(', ')}: use one per ${isStep ? 'step' : 'trigger'}`,
        ),
      );
      return undefined;
    }
    return branches[kinds.indexOf(present[0]!)];
  }
  // Prefer a branch whose own type matched (no invalid_type at its root), then the fewest issues.
  const scored = branches.map((b) => ({
    b,
    // A literal alternative (`contact`) failing on a mapping is a type mismatch too.
    rootTypeMismatch: b.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'))
      ? 1
      : 0,
  }));
  scored.sort((x, y) => x.rootTypeMismatch - y.rootTypeMismatch || x.b.length - y.b.length);
  const best = scored[0];
  if (best === undefined) return undefined;
  if (best.rootTypeMismatch === 1) {
    out.push(
      source.issue(path, `${where(path)}has the wrong form, got ${describeValue(value)} (see docs/scenarios.md)`),
    );
    return undefined;
  }
  return best.b;
}

function where(path: DataPath): string {
  const last = [...path].reverse().find((p) => typeof p === 'string');
  return last === undefined ? '' : `${String(last)}: `;
}

function valueAt(data: unknown, path: DataPath): unknown {
  let current = data;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[part];
  }
  return current;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function article(type: string): string {
  switch (type) {
    case 'object':
      return 'a mapping (key: value)';
    case 'array':
      return 'a list';
    case 'int':
      return 'a whole number';
    default:
      return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'object':
      return 'a mapping';
    case 'string':
      return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return `${String(value)}`;
    default:
      return typeof value;
  }
}
