import type { FieldIssue } from '../../common/domain-error';
import type { RowIssue } from './import.types';

/** Issues beyond this many are counted but not listed in the answer. */
export const MAX_REPORTED_ISSUES = 1000;

type LineIssue = FieldIssue & { line: number };

/**
 * Counts the rows of one import and collects the issues of bad rows, keeping the
 * `maxIssues` of them on the lowest lines. Issues do not arrive in line order:
 * the database checks of a batch report its rows after the schema checks of
 * later rows have reported theirs.
 */
export class ImportReport {
  rows = 0;
  invalid = 0;
  totalIssues = 0;
  /** Kept issues in arrival order; trimmed to the lowest `maxIssues` when it holds twice that. */
  private kept: LineIssue[] = [];
  /** Once trimmed: an issue on this line or a later one can no longer be among those listed. */
  private cutoff = Infinity;

  constructor(private readonly maxIssues: number = MAX_REPORTED_ISSUES) {}

  /** Counts one more data row and returns the new count. */
  countRow(): number {
    this.rows += 1;
    return this.rows;
  }

  /** Marks the row at `line` bad, for every issue given (at least one is expected). */
  reject(line: number, issues: readonly RowIssue[]): void {
    this.invalid += 1;
    this.totalIssues += issues.length;
    // A later issue of the line at the cutoff sorts after the kept ones of that line: never listed.
    if (line >= this.cutoff) return;
    for (const issue of issues) this.kept.push({ line, path: issue.path, message: issue.message });
    if (this.kept.length >= 2 * this.maxIssues) this.trim();
  }

  get valid(): number {
    return this.rows - this.invalid;
  }

  /** The issues of the lowest lines, at most `maxIssues`, ordered by line (each row's in their order). */
  issues(): FieldIssue[] {
    return byLine(this.kept).slice(0, this.maxIssues);
  }

  private trim(): void {
    this.kept = byLine(this.kept).slice(0, this.maxIssues);
    this.cutoff = this.kept.at(-1)?.line ?? Infinity;
  }
}

/** Sorted by line; the sort is stable, so each row's issues keep their order. */
function byLine(issues: readonly LineIssue[]): LineIssue[] {
  return [...issues].sort((a, b) => a.line - b.line);
}
