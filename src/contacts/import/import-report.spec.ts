import { ImportReport } from './import-report';

describe('ImportReport', () => {
  it('counts rows, bad rows and issues', () => {
    const report = new ImportReport();
    for (let i = 0; i < 5; i++) report.countRow();
    report.reject(3, [
      { path: 'email', message: 'must be an email address' },
      { path: 'roles.0', message: 'bad role' },
    ]);
    report.reject(5, [{ path: 'externalId', message: 'already given on line 2' }]);
    expect(report.rows).toBe(5);
    expect(report.invalid).toBe(2);
    expect(report.valid).toBe(3);
    expect(report.totalIssues).toBe(3);
  });

  it('orders issues by line, keeping the order within a row', () => {
    const report = new ImportReport();
    report.reject(9, [{ path: 'accountExternalId', message: 'unknown' }]);
    report.reject(4, [
      { path: 'email', message: 'a' },
      { path: 'name', message: 'b' },
    ]);
    expect(report.issues()).toEqual([
      { line: 4, path: 'email', message: 'a' },
      { line: 4, path: 'name', message: 'b' },
      { line: 9, path: 'accountExternalId', message: 'unknown' },
    ]);
  });

  it('keeps at most the cap but counts every issue', () => {
    const report = new ImportReport(2);
    for (let line = 2; line < 7; line++) report.reject(line, [{ path: 'email', message: 'x' }]);
    expect(report.issues().map((i) => i.line)).toEqual([2, 3]);
    expect(report.totalIssues).toBe(5);
    expect(report.invalid).toBe(5);
  });

  it('keeps the issues of the lowest lines, whatever order they arrive in', () => {
    const report = new ImportReport(3);
    // Schema issues of a batch's later rows arrive before the database checks of its earlier ones.
    for (let line = 10; line < 30; line++) report.reject(line, [{ path: 'email', message: 'x' }]);
    report.reject(2, [
      { path: 'accountExternalId', message: 'unknown' },
      { path: 'email', message: 'taken' },
    ]);
    for (let line = 30; line < 40; line++) report.reject(line, [{ path: 'email', message: 'x' }]);
    report.reject(5, [{ path: 'email', message: 'taken' }]);
    expect(report.issues()).toEqual([
      { line: 2, path: 'accountExternalId', message: 'unknown' },
      { line: 2, path: 'email', message: 'taken' },
      { line: 5, path: 'email', message: 'taken' },
    ]);
    expect(report.totalIssues).toBe(33);
    expect(report.invalid).toBe(32);
  });
});
