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

/** Parses `input` or throws a DomainError listing every field path that failed. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what = 'body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new DomainError(ErrorCode.Invalid, `Invalid ${what}`, toFieldIssues(result.error.issues));
}
