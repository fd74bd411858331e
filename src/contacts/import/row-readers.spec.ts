import { Readable } from 'node:stream';
import { DomainError, ErrorCode } from '../../common/domain-error';
import type { SourceRow } from './import.types';
import { readCsvRows, readNdjsonRows } from './row-readers';

function bodyOf(...chunks: string[]): Readable {
  return Readable.from(chunks.map((c) => Buffer.from(c, 'utf8')));
}

async function collect(rows: AsyncIterable<SourceRow>): Promise<SourceRow[]> {
  const out: SourceRow[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

async function failure(rows: AsyncIterable<SourceRow>): Promise<DomainError> {
  try {
    await collect(rows);
  } catch (error: unknown) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected the reader to fail');
}

const limits = { maxBytes: 1024 * 1024 };

describe('readNdjsonRows', () => {
  it('numbers rows by physical line, skipping blank lines and joining chunks', async () => {
    const rows = await collect(readNdjsonRows(bodyOf('\uFEFF{"a":1}\r\n\n  \n{"b":', '"日', '本"}\n{"c":3}'), limits));
    expect(rows).toEqual([
      { line: 1, ok: true, record: { a: 1 } },
      { line: 4, ok: true, record: { b: '日本' } },
      { line: 5, ok: true, record: { c: 3 } },
    ]);
  });

  it('splits a multi-byte character across chunks correctly', async () => {
    const bytes = Buffer.from('{"name":"山田"}\n', 'utf8');
    const body = Readable.from([bytes.subarray(0, 11), bytes.subarray(11)]);
    expect(await collect(readNdjsonRows(body, limits))).toEqual([{ line: 1, ok: true, record: { name: '山田' } }]);
  });

  it('reports a JSON syntax error as an issue of its line and goes on', async () => {
    const rows = await collect(readNdjsonRows(bodyOf('{"a":1}\n{"a":\n{"a":3}\n'), limits));
    expect(rows[0]).toEqual({ line: 1, ok: true, record: { a: 1 } });
    expect(rows[1]).toMatchObject({ line: 2, ok: false, issues: [{ path: '(row)' }] });
    expect(rows[1]?.ok === false && rows[1].issues[0]?.message).toMatch(/^is not valid JSON: /);
    expect(rows[2]).toEqual({ line: 3, ok: true, record: { a: 3 } });
  });

  it('fails with PayloadTooLarge past the byte limit', async () => {
    const error = await failure(readNdjsonRows(bodyOf('{"a":1}\n', '{"a":2}\n', '{"a":3}\n'), { maxBytes: 12 }));
    expect(error.code).toBe(ErrorCode.PayloadTooLarge);
  });
});

describe('readCsvRows', () => {
  it('maps records to the input shape and numbers them by their first line', async () => {
    const csv = [
      'externalId,accountExternalId,email,name,roles',
      'c-1,acme,a@x.jp,,admin;champion',
      '',
      'c-2,acme,b@x.jp,"two',
      'lines",operator',
      'c-3,acme,c@x.jp,Three,',
    ].join('\r\n');
    const rows = await collect(readCsvRows(bodyOf(csv.slice(0, 50), csv.slice(50)), 'contacts', limits));
    expect(rows).toEqual([
      {
        line: 2,
        ok: true,
        record: { externalId: 'c-1', accountExternalId: 'acme', email: 'a@x.jp', roles: ['admin', 'champion'] },
      },
      {
        line: 4,
        ok: true,
        record: {
          externalId: 'c-2',
          accountExternalId: 'acme',
          email: 'b@x.jp',
          name: 'two\r\nlines',
          roles: ['operator'],
        },
      },
      { line: 6, ok: true, record: { externalId: 'c-3', accountExternalId: 'acme', email: 'c@x.jp', name: 'Three' } },
    ]);
  });

  it('reports a record with the wrong number of cells and goes on', async () => {
    const csv = 'externalId,name,email\ns-1,Sato\ns-2,Suzuki,s2@x.jp\n,,\n';
    const rows = await collect(readCsvRows(bodyOf(csv), 'csms', limits));
    expect(rows).toEqual([
      { line: 2, ok: false, issues: [{ path: '(row)', message: 'has 2 cells but the header has 3 columns' }] },
      { line: 3, ok: true, record: { externalId: 's-2', name: 'Suzuki', email: 's2@x.jp' } },
    ]);
  });

  it('stops with every header problem on line 1', async () => {
    const error = await failure(readCsvRows(bodyOf('externalId,colour\nx,red\n'), 'accounts', limits));
    expect(error.code).toBe(ErrorCode.Invalid);
    expect(error.issues).toEqual([
      expect.objectContaining({ line: 1, path: 'colour' }),
      expect.objectContaining({ line: 1, path: 'name', message: 'is a required column and is missing' }),
    ]);
  });

  it('stops on broken quoting, naming the line', async () => {
    const error = await failure(readCsvRows(bodyOf('externalId,name\na,"ok"\nb,"bad"x\nc,fine\n'), 'accounts', limits));
    expect(error.code).toBe(ErrorCode.Invalid);
    expect(error.issues).toEqual([expect.objectContaining({ line: 3, path: '(file)' })]);
  });

  it('yields nothing for an empty body', async () => {
    expect(await collect(readCsvRows(bodyOf(''), 'contacts', limits))).toEqual([]);
  });

  it('fails with PayloadTooLarge past the byte limit', async () => {
    const error = await failure(
      readCsvRows(bodyOf('externalId,name\n', 'a,A\n'.repeat(10)), 'accounts', { maxBytes: 20 }),
    );
    expect(error.code).toBe(ErrorCode.PayloadTooLarge);
  });
});

describe('readCsvRows line numbers', () => {
  it('match the physical lines for every way the body may be cut into chunks', async () => {
    for (const nl of ['\n', '\r\n']) {
      const csv = ['externalId,name', 'a,"A1\r\nA2"', '', 'b,"B1\nB2\rB3"', 'c,C', 'd,"D1', '', 'D3"', 'e,E', ''].join(
        nl,
      );
      for (let cut = 0; cut <= csv.length; cut++) {
        const rows = await collect(readCsvRows(bodyOf(csv.slice(0, cut), csv.slice(cut)), 'accounts', limits));
        expect({ nl, cut, lines: rows.map((r) => r.line) }).toEqual({ nl, cut, lines: [2, 5, 7, 8, 11] });
      }
    }
  });
});
