import type { FieldIssue } from '../common/domain-error';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../common/storable';

/** Bounds on an event's `props`: small, flat-ish JSON a segment or a metric can read. */
export const PROPS_LIMITS = {
  /** Keys in all, nested objects' keys included. */
  maxKeys: 50,
  /** The props object is level 1; each nested object or array adds a level. */
  maxDepth: 3,
  /** UTF-8 bytes of the JSON serialization. */
  maxBytes: 8 * 1024,
  /** Characters of any string value. */
  maxStringLength: 1000,
} as const;

export type PropsLimits = typeof PROPS_LIMITS;

/** At most this many problems are reported for one props object. */
const MAX_ISSUES = 5;

/**
 * Checks `props` against the limits and returns every problem found (up to a few),
 * with paths relative to the props object (e.g. `plan.tiers.0`). The walk never
 * descends past the depth limit, so arbitrarily deep input costs nothing and cannot
 * overflow the stack. Strings PostgreSQL's jsonb refuses (NUL characters, lone UTF-16
 * surrogates) are reported here instead of failing the insert.
 */
export function checkPropsBounds(props: unknown, limits: PropsLimits = PROPS_LIMITS): FieldIssue[] {
  if (props === null || typeof props !== 'object' || Array.isArray(props)) {
    return [{ path: '', message: 'must be a JSON object' }];
  }
  const issues: FieldIssue[] = [];
  let keyCount = 0;
  let tooDeep = false;
  // An upper bound of the UTF-8 bytes of JSON.stringify(props), summed during the walk: a
  // character takes at most 6 bytes (a control character escaped as \u00XX), a number at most
  // 24, and every value one more for the comma after it (containers: brackets and comma).
  // Small props (nearly all) are then never serialized here.
  let maxBytes = 2;
  // The current path, as a stack: a string is built only for a problem.
  const path: string[] = [];

  const add = (at: string[], message: string) => {
    if (issues.length < MAX_ISSUES) issues.push({ path: at.join('.'), message });
  };

  const checkString = (value: string, what: string) => {
    maxBytes += value.length * 6 + 3;
    if (value.length > limits.maxStringLength) {
      add(path, `${what} must be at most ${limits.maxStringLength} characters`);
    } else if (!isStorableText(value)) {
      add(path, `${what} ${UNSTORABLE_TEXT_MESSAGE}`);
    }
  };

  const walk = (value: unknown, level: number): void => {
    if (issues.length >= MAX_ISSUES) return;
    if (typeof value === 'string') {
      checkString(value, 'strings');
      return;
    }
    if (value === null || typeof value !== 'object') {
      maxBytes += 25;
      return;
    }
    if (level > limits.maxDepth) {
      tooDeep = true;
      add(path, `must be nested at most ${limits.maxDepth} levels deep (props itself is level 1)`);
      return;
    }
    maxBytes += 3; // brackets and the comma after
    if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index++) {
        path.push(String(index));
        walk(value[index], level + 1);
        path.pop();
      }
      return;
    }
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      keyCount += 1;
      if (keyCount === limits.maxKeys + 1)
        add([], `must have at most ${limits.maxKeys} keys in all, nested keys included`);
      path.push(key);
      checkString(key, 'keys');
      walk((value as Record<string, unknown>)[key], level + 1);
      path.pop();
    }
  };

  walk(props, 1);

  // Serializing is safe once the depth is known to be bounded.
  if (!tooDeep && maxBytes > limits.maxBytes) {
    const bytes = Buffer.byteLength(JSON.stringify(props), 'utf8');
    if (bytes > limits.maxBytes) {
      add([], `must serialize to at most ${limits.maxBytes} bytes of JSON (got ${bytes})`);
    }
  }
  return issues;
}
