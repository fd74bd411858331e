import { CsvError, parse } from 'csv-parse';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { csvCellsToInput, parseCsvHeader } from './csv-row.util';
import { bodyTooLarge } from './import-request.util';
import type { ImportKind, SourceRow } from './import.types';

const blank = /^\s*$/;

/** A single row (NDJSON line or CSV record) may not be longer than this. */
export const MAX_ROW_CHARS = 1024 * 1024;

export interface ReadLimits {
  /** The body may not be longer than this; reading stops with PayloadTooLarge past it. */
  maxBytes: number;
}

/**
 * Reads an NDJSON body line by line as it arrives. Yields one row per non-blank
 * line, numbered by physical line; a line that is not JSON becomes a row issue.
 */
export async function* readNdjsonRows(body: Readable, limits: ReadLimits): AsyncGenerator<SourceRow> {
  const splitter = new LineSplitter(MAX_ROW_CHARS);
  let line = 0;
  for await (const lines of pipeLimited(body, splitter, limits.maxBytes) as AsyncIterable<string[]>) {
    for (const raw of lines) {
      line += 1;
      const text = line === 1 && raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
      if (blank.test(text)) continue;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (error: unknown) {
        const reason = error instanceof Error ? error.message : String(error);
        yield { line, ok: false, issues: [{ path: '(row)', message: `is not valid JSON: ${reason}` }] };
        continue;
      }
      yield { line, ok: true, record };
    }
  }
}

/**
 * Reads a CSV body record by record as it arrives. The first record is the
 * header (problems with it stop the import); each later record is numbered by
 * the line it starts on and turned into the input shape of `kind`. A record with
 * the wrong number of cells becomes a row issue; broken quoting stops the import.
 */
export async function* readCsvRows(body: Readable, kind: ImportKind, limits: ReadLimits): AsyncGenerator<SourceRow> {
  const parser = parse({
    bom: true,
    info: true,
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    max_record_size: MAX_ROW_CHARS,
  });
  let columns: ReturnType<typeof parseCsvHeader> | undefined;
  // csv-parse counts a CR inside a quoted cell as a line of its own; this undoes that.
  let extraLinesCounted = 0;
  try {
    for await (const item of pipeLimited(body, parser, limits.maxBytes) as AsyncIterable<CsvItem>) {
      const cells = item.record;
      const breaks = lineBreaksIn(cells);
      extraLinesCounted += breaks.cr;
      const line = item.info.lines - extraLinesCounted - breaks.lf;
      if (columns === undefined) {
        columns = parseCsvHeader(kind, cells);
        if (!columns.ok) {
          throw new DomainError(
            ErrorCode.Invalid,
            'The CSV header is not valid; nothing was imported',
            columns.issues.map((issue) => ({ line, ...issue })),
          );
        }
        continue;
      }
      if (!columns.ok) continue;
      if (cells.length !== columns.columns.length) {
        const message = `has ${cells.length} cells but the header has ${columns.columns.length} columns`;
        yield { line, ok: false, issues: [{ path: '(row)', message }] };
        continue;
      }
      yield { line, ok: true, record: csvCellsToInput(columns.columns, cells) };
    }
  } catch (error: unknown) {
    throw error instanceof CsvError ? malformedCsv(error) : error;
  }
}

interface CsvItem {
  record: string[];
  info: { lines: number };
}

/**
 * Line feeds and carriage returns inside the (quoted) cells of one record.
 * csv-parse counts each of these characters as a line; a physical line ends at LF only.
 */
function lineBreaksIn(cells: readonly string[]): { lf: number; cr: number } {
  let lf = 0;
  let cr = 0;
  for (const cell of cells) {
    if (!cell.includes('\n') && !cell.includes('\r')) continue;
    for (const ch of cell) {
      if (ch === '\n') lf += 1;
      else if (ch === '\r') cr += 1;
    }
  }
  return { lf, cr };
}

function malformedCsv(error: CsvError): DomainError {
  const line = (error as CsvError & { lines?: number }).lines;
  return new DomainError(ErrorCode.Invalid, 'The CSV is malformed; nothing was imported', [
    { ...(line === undefined ? {} : { line }), path: '(file)', message: error.message },
  ]);
}

/**
 * Pipes `body` through a byte counter into `target` and returns `target` to be
 * iterated. Past `maxBytes` the target fails with PayloadTooLarge. `body` itself
 * is never destroyed (the reply must still be sent): when iteration stops, it is
 * unpiped and whatever is left of it is discarded by the HTTP server.
 */
function pipeLimited(body: Readable, target: Transform, maxBytes: number): AsyncIterable<unknown> {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      if (bytes > maxBytes) callback(bodyTooLarge(maxBytes));
      else callback(null, chunk);
    },
  });
  const fail = (error: Error) => target.destroy(error);
  body.on('error', fail);
  counter.on('error', fail);
  body.pipe(counter).pipe(target);
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield* target;
      } finally {
        body.off('error', fail);
        body.unpipe(counter);
        counter.destroy();
        target.destroy();
      }
    },
  };
}

/** Splits UTF-8 text into lines (without their `\n`), pushing each chunk's complete lines as one array. */
class LineSplitter extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private lines = 0;

  constructor(private readonly maxLineChars: number) {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const parts = (this.rest + this.decoder.write(chunk)).split('\n');
    this.rest = parts.pop() ?? '';
    this.lines += parts.length;
    if (this.rest.length > this.maxLineChars) {
      const line = this.lines + 1;
      const message = `is longer than ${this.maxLineChars} characters`;
      callback(
        new DomainError(ErrorCode.Invalid, `Line ${line} is too long; nothing was imported`, [
          { line, path: '(row)', message },
        ]),
      );
      return;
    }
    callback(null, parts.length > 0 ? parts.map(stripCarriageReturn) : undefined);
  }

  override _flush(callback: TransformCallback): void {
    const last = this.rest + this.decoder.end();
    callback(null, last === '' ? undefined : [stripCarriageReturn(last)]);
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
