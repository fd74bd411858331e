import type { FieldIssue } from '../../common/domain-error';

/** What an import endpoint writes. */
export type ImportKind = 'csms' | 'accounts' | 'contacts';

/** How the rows of an import body are written. */
export type ImportFormat = 'csv' | 'ndjson';

/** A problem with one row, before the line number is attached. */
export type RowIssue = Omit<FieldIssue, 'line'>;

/**
 * One data row of an import body: the raw record to validate, or the issues that
 * stopped it from becoming one (a JSON syntax error, a wrong number of CSV cells).
 * `line` is the 1-based physical line where the row starts.
 */
export type SourceRow = { line: number; ok: true; record: unknown } | { line: number; ok: false; issues: RowIssue[] };

/** The result of one import, committed or rolled back. */
export interface ImportOutcome {
  /** True when the valid rows were committed; false when everything was rolled back. */
  committed: boolean;
  /** Data rows read (blank lines are not rows). */
  rows: number;
  valid: number;
  invalid: number;
  created: number;
  updated: number;
  /** The issues of the lowest lines, ordered by line; at most MAX_REPORTED_ISSUES. */
  issues: FieldIssue[];
  /** Every issue found, including those left out of `issues`. */
  totalIssues: number;
}
