import type { z } from 'zod';
import { DomainError, ErrorCode, type FieldIssue } from './domain-error';

/** One issue per field; each unknown field gets its own path (`data.colour`: unknown field). */
export function toFieldIssues(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[] = []): FieldIssue[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? p.toString() : p))];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...path, key].join('.'), message: 'unknown field' }));
    }
    return [{ path: path.length > 0 ? path.join('.') : '(body)', message: issue.message }];
  });
}

/** A 400 lists at most this many issues, so a hostile body (100k bad keys) cannot make a huge answer. */
export const MAX_REPORTED_ISSUES = 100;

/** Parses `input` or throws a DomainError listing the field paths that failed (at most MAX_REPORTED_ISSUES). */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what = 'body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalidInput(`Invalid ${what}`, toFieldIssues(result.error.issues));
}

/** A 400 with the first MAX_REPORTED_ISSUES issues; the message says how many there were in all. */
export function invalidInput(title: string, issues: FieldIssue[]): DomainError {
  const shown = issues.slice(0, MAX_REPORTED_ISSUES);
  const message =
    issues.length > shown.length ? `${title} (showing ${shown.length} of ${issues.length} issues)` : title;
  return new DomainError(ErrorCode.Invalid, message, shown);
}
