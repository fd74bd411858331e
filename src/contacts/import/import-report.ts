import type { FieldIssue } from '../../common/domain-error';
import type { RowIssue } from './import.types';

/** Issues beyond this many are counted but not listed in the answer. */
export const MAX_REPORTED_ISSUES = 1000;

/** Counts the rows of one import and collects the issues of bad rows, keeping at most `maxIssues` of them. */
export class ImportReport {
  rows = 0;
  invalid = 0;
  totalIssues = 0;
  private readonly kept: FieldIssue[] = [];

  constructor(private readonly maxIssues: number = MAX_REPORTED_ISSUES) {}

  /** Counts one more data row and returns the new count. */
  countRow(): number {
    this.rows += 1;
    return this.rows;
  }

  /** Marks the row at `line` bad, for every issue given (at least one is expected). */
  reject(line: number, issues: readonly RowIssue[]): void {
    this.invalid += 1;
    for (const issue of issues) {
      this.totalIssues += 1;
      if (this.kept.length < this.maxIssues) this.kept.push({ line, path: issue.path, message: issue.message });
    }
  }

  get valid(): number {
    return this.rows - this.invalid;
  }

  /** The kept issues ordered by line (a stable sort keeps each row's issues in their order). */
  issues(): FieldIssue[] {
    return [...this.kept].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  }
}
