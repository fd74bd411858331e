import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { BodyIdleTimeout } from './import-request.util';
import type { SourceRow } from './import.types';
import { MAX_ROW_CHARS, readCsvRows, readNdjsonRows } from './row-readers';

function bodyOf(...chunks: string[]): Readable {
  return Readable.from(chunks.map((c) => Buffer.from(c, 'utf8')));
}

async function collect(rows: AsyncIterable<SourceRow>): Promise<SourceRow[]> {
  const out: SourceRow[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

async function failure(rows: AsyncIterable<SourceRow>): Promise<DomainError> {
  const error = await anyFailure(rows);
  if (error instanceof DomainError) return error;
  throw error;
}

async function anyFailure(rows: AsyncIterable<SourceRow>): Promise<unknown> {
  try {
    await collect(rows);
  } catch (error: unknown) {
    return error;
  }
  throw new Error('expected the reader to fail');
}

/** `text` with the bytes of "佐藤" in Shift_JIS (not UTF-8) where `{sjis}` is. */
function shiftJis(text: string): Buffer {
  const [before = '', after = ''] = text.split('{sjis}');
  return Buffer.concat([Buffer.from(before), Buffer.from([0x8d, 0xb2, 0x93, 0xa1]), Buffer.from(after)]);
}

const limits = { maxBytes: 1024 * 1024, idleTimeoutMs: 10_000 };

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
    const error = await failure(
      readNdjsonRows(bodyOf('{"a":1}\n', '{"a":2}\n', '{"a":3}\n'), { ...limits, maxBytes: 12 }),
    );
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
      readCsvRows(bodyOf('externalId,name\n', 'a,A\n'.repeat(10)), 'accounts', { ...limits, maxBytes: 20 }),
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

describe('reading a body that stalls', () => {
  it('fails with BodyIdleTimeout when no byte arrives for the idle time', async () => {
    for (const read of [
      (body: Readable) => readCsvRows(body, 'csms', { ...limits, idleTimeoutMs: 50 }),
      (body: Readable) => readNdjsonRows(body, { ...limits, idleTimeoutMs: 50 }),
    ]) {
      const body = new PassThrough();
      body.write('externalId,name,email\n');
      const started = Date.now();
      const error = await anyFailure(read(body));
      expect(error).toBeInstanceOf(BodyIdleTimeout);
      expect((error as Error).message).toMatch(/^No part of the import body arrived for 50 ms; /);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  it('counts only the time spent waiting for the body, not the time spent on its rows', async () => {
    const body = new PassThrough();
    // csv-parse holds the last record until it sees what follows: s-2 is the last one it yields.
    body.write('externalId,name,email\ns-1,One,1@x.jp\ns-2,Two,2@x.jp\n');
    const rows = readCsvRows(body, 'csms', { ...limits, idleTimeoutMs: 100 });
    const seen: number[] = [];
    for await (const row of rows) {
      seen.push(row.line);
      if (row.line === 2) {
        // Busy writing for longer than the idle time: the client is not to blame.
        await sleep(300);
        body.end('s-3,Three,3@x.jp\n');
      }
    }
    expect(seen).toEqual([2, 3, 4]);
  });

  it('keeps waiting while bytes keep arriving, even before a whole row has', async () => {
    const body = new PassThrough();
    const rows = collect(readNdjsonRows(body, { ...limits, idleTimeoutMs: 150 }));
    for (const piece of ['{"a":', '1', '}', '\n']) {
      body.write(piece);
      await sleep(60);
    }
    body.end();
    expect(await rows).toEqual([{ line: 1, ok: true, record: { a: 1 } }]);
  });

  it('stops a body that keeps trickling past maxDurationMs, idle time or not', async () => {
    const body = new PassThrough();
    const failure = anyFailure(readNdjsonRows(body, { ...limits, idleTimeoutMs: 1_000, maxDurationMs: 200 }));
    const trickle = setInterval(() => body.write('{"a":1}\n'), 20);
    try {
      const error = await failure;
      expect(error).toBeInstanceOf(BodyIdleTimeout);
      expect((error as Error).message).toMatch(/did not arrive in full within 200 ms \(IMPORT_MAX_DURATION\)/);
    } finally {
      clearInterval(trickle);
    }
  });
});

describe('bytes that are not UTF-8', () => {
  it('stop a CSV import, naming the line they are on', async () => {
    const bytes = shiftJis('externalId,name,email\ns-1,Sato,1@x.jp\ns-2,"{sjis}\r\nx",2@x.jp\ns-3,C,3@x.jp\n');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const body = Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]);
      const error = await failure(readCsvRows(body, 'csms', limits));
      expect({ cut, code: error.code, issues: error.issues }).toEqual({
        cut,
        code: ErrorCode.Invalid,
        issues: [expect.objectContaining({ line: 3, path: '(file)' })],
      });
    }
  });

  it('stop an NDJSON import, naming the line they are on', async () => {
    const bytes = shiftJis('{"a":"日本"}\n\n{"a":"{sjis}"}\n{"a":3}\n');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const body = Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]);
      const error = await failure(readNdjsonRows(body, limits));
      expect({ cut, message: error.message, line: error.issues[0]?.line }).toEqual({
        cut,
        message: 'Line 3 is not valid UTF-8; nothing was imported',
        line: 3,
      });
    }
  });

  it('include a character cut short by the end of the body', async () => {
    const bytes = Buffer.from('{"a":1}\n{"a":"日', 'utf8');
    const error = await failure(readNdjsonRows(Readable.from([bytes.subarray(0, -1)]), limits));
    expect(error.issues).toEqual([expect.objectContaining({ line: 2 })]);
  });

  it('do not include UTF-8 cut anywhere by chunk boundaries, nor a byte-order mark', async () => {
    const text = '\uFEFFexternalId,name,email\ns-1,佐藤 😀,1@x.jp\n';
    const bytes = Buffer.from(text, 'utf8');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const body = Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(await collect(readCsvRows(body, 'csms', limits))).toEqual([
        { line: 2, ok: true, record: { externalId: 's-1', name: '佐藤 😀', email: '1@x.jp' } },
      ]);
    }
  });
});

describe('a CSV header with very many problems', () => {
  it('lists at most 1000 of them and says how many there are', async () => {
    const header = Array.from({ length: 5000 }, () => 'a').join(',');
    const error = await failure(readCsvRows(bodyOf(`${header}\nx\n`), 'csms', limits));
    expect(error.message).toBe(
      'The CSV header is not valid; nothing was imported (5003 problems; the first 1000 are listed)',
    );
    expect(error.issues).toHaveLength(1000);
    expect(error.issues[0]).toMatchObject({ line: 1, path: 'a' });
  });
});

describe('readNdjsonRows long lines', () => {
  it('reads a line sent in many small chunks in time linear in its length', async () => {
    const value = 'x'.repeat(MAX_ROW_CHARS - 20);
    const text = `{"a":1}\n{"v":"${value}"}\n`;
    const chunks: Buffer[] = [];
    for (let i = 0; i < text.length; i += 64) chunks.push(Buffer.from(text.slice(i, i + 64)));
    const started = Date.now();
    const rows = await collect(readNdjsonRows(Readable.from(chunks), limits));
    // 16,000 chunks: re-joining and re-splitting the whole pending line on each took minutes.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(rows.map((r) => r.line)).toEqual([1, 2]);
    expect(rows[1]).toEqual({ line: 2, ok: true, record: { v: value } });
  });

  it('stops at a line longer than the limit, even when one chunk ends it', async () => {
    const long = `{"v":"${'x'.repeat(MAX_ROW_CHARS)}"}`;
    const error = await failure(
      readNdjsonRows(bodyOf('{"a":1}\n', long.slice(0, 1000), `${long.slice(1000)}\n`), {
        ...limits,
        maxBytes: 4 * MAX_ROW_CHARS,
      }),
    );
    expect(error.message).toBe('Line 2 is too long; nothing was imported');
    expect(error.issues).toEqual([expect.objectContaining({ line: 2, path: '(row)' })]);
  });
});

describe('readCsvRows line numbers of broken quoting', () => {
  it('do not count the CRs inside earlier quoted cells, however the body is cut', async () => {
    const csv = 'externalId,name\r\n1,"a\r\nb"\r\n2,"x"y\r\n';
    for (let cut = 0; cut <= csv.length; cut++) {
      const error = await failure(readCsvRows(bodyOf(csv.slice(0, cut), csv.slice(cut)), 'accounts', limits));
      expect({ cut, issues: error.issues }).toEqual({
        cut,
        issues: [
          { line: 4, path: '(file)', message: expect.stringContaining('got "y" at line 4 instead of') as unknown },
        ],
      });
    }
  });

  it('name the first line of a record whose quote is never closed', async () => {
    const csv = 'externalId,name\r\n1,"a\r\nb"\r\n\r\n2,"x\r\n3,y\r\n4,z\r\n';
    const error = await failure(readCsvRows(bodyOf(csv), 'accounts', limits));
    expect(error.issues).toEqual([
      {
        line: 5,
        path: '(file)',
        message: 'Quote Not Closed: a quoted cell of the record starting on line 5 is never closed',
      },
    ]);
  });

  it('count the lines of a skipped record whose cells are blank', async () => {
    const csv = 'externalId,name\r\n"\r\n",\r\na,A\r\n , \r\nb,B\r\nc,"x"y\r\n';
    for (let cut = 0; cut <= csv.length; cut++) {
      const good = csv.slice(0, csv.indexOf('c,'));
      const rows = await collect(readCsvRows(bodyOf(good.slice(0, cut), good.slice(cut)), 'accounts', limits));
      expect({ cut, lines: rows.map((r) => r.line) }).toEqual({ cut, lines: [4, 6] });
      const error = await failure(readCsvRows(bodyOf(csv.slice(0, cut), csv.slice(cut)), 'accounts', limits));
      expect({ cut, issues: error.issues }).toEqual({ cut, issues: [expect.objectContaining({ line: 7 })] });
    }
  });
});
