import { CsvError, type InfoRecord, type Options, parse } from 'csv-parse';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { type CsvHeaderIssues, csvCellsToInput, parseCsvHeader } from './csv-row.util';
import { BodyIdleTimeout, bodyTooLarge, bodyTooSlow } from './import-request.util';
import type { ImportKind, SourceRow } from './import.types';
import { Utf8Decoder } from './utf8-decoder';

const blank = /^\s*$/;

/** A single row (NDJSON line or CSV record) may not be longer than this. */
export const MAX_ROW_CHARS = 1024 * 1024;

/**
 * How long an import waits for the next bytes of its body before it gives up
 * (408). Hard-coded (no setting yet); a client that stalls must not keep an
 * import, and with it possibly a transaction and a connection, for ever.
 */
export const BODY_IDLE_TIMEOUT_MS = 30_000;

export interface ReadLimits {
  /** The body may not be longer than this; reading stops with PayloadTooLarge past it. */
  maxBytes: number;
  /**
   * Reading stops with BodyIdleTimeout when no byte of the body arrives for this
   * long while the import waits for one (time spent writing does not count).
   */
  idleTimeoutMs: number;
  /** Reading stops with a BodyIdleTimeout (too slow) when the body has not ended this long after reading began. */
  maxDurationMs?: number;
}

/**
 * Reads an NDJSON body line by line as it arrives. Yields one row per non-blank
 * line, numbered by physical line; a line that is not JSON becomes a row issue.
 */
export async function* readNdjsonRows(body: Readable, limits: ReadLimits): AsyncGenerator<SourceRow> {
  const stages = [new Utf8Decoder(), new LineSplitter(MAX_ROW_CHARS)];
  let line = 0;
  for await (const lines of pipeLimited(body, stages, limits) as AsyncIterable<string[]>) {
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
 * A record whose cells are all blank is skipped.
 */
export async function* readCsvRows(body: Readable, kind: ImportKind, limits: ReadLimits): AsyncGenerator<SourceRow> {
  const lines = new CsvLines();
  const options: Options<CsvRecord, string[]> = {
    bom: true,
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_ROW_CHARS,
    // Called as each record is parsed, even when the stream fails later in the same chunk,
    // so the line count of a malformed record includes every record before it.
    on_record: (cells, info) => lines.record(cells, info),
  };
  // csv-parse types options with a record type only when it maps columns itself.
  const parser = parse(options as unknown as Options);
  const records = pipeLimited(body, [new Utf8Decoder(), parser], limits) as AsyncIterable<CsvRecord>;
  let columns: ReturnType<typeof parseCsvHeader> | undefined;
  try {
    for await (const { line, cells } of records) {
      if (columns === undefined) {
        columns = parseCsvHeader(kind, cells);
        if (!columns.ok) throw invalidHeader(line, columns);
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
    throw error instanceof CsvError ? lines.malformed(error) : error;
  }
}

interface CsvRecord {
  /** The physical line the record starts on. */
  line: number;
  cells: string[];
}

function invalidHeader(line: number, header: CsvHeaderIssues): DomainError {
  const listed = header.issues.length;
  const more = header.total > listed ? ` (${header.total} problems; the first ${listed} are listed)` : '';
  return new DomainError(
    ErrorCode.Invalid,
    `The CSV header is not valid; nothing was imported${more}`,
    header.issues.map((issue) => ({ line, ...issue })),
  );
}

/**
 * Physical line numbers for csv-parse's records and errors. csv-parse counts a
 * line for every CR or LF inside a cell, but a physical line ends at LF only
 * (a CRLF ending a record counts once): each CR inside a cell is one line too many.
 */
class CsvLines {
  /** CRs inside the cells of the records parsed so far: lines csv-parse counted too many. */
  private extra = 0;
  /** The physical line the last parsed record ended on (0 before the first). */
  private lastEnd = 0;
  /** csv-parse's count of skipped empty lines when that record was parsed. */
  private emptyLinesAtLastEnd = 0;

  /** Numbers a parsed record; skips it (null) when its cells are all blank. */
  record(cells: string[], info: InfoRecord): CsvRecord | null {
    const breaks = lineBreaksIn(cells);
    this.extra += breaks.cr;
    this.lastEnd = info.lines - this.extra;
    this.emptyLinesAtLastEnd = info.empty_lines;
    // Skipped here rather than with csv-parse's skip_records_with_empty_values, whose
    // skipped records never reach this count (a `"\r\n",` record would shift every later line).
    if (cells.every((cell) => cell.trim() === '')) return null;
    return { line: this.lastEnd - breaks.lf, cells };
  }

  /**
   * The import error for broken quoting or an oversized record. A cell never closed
   * runs to the end of the body: its record's first line is the useful one.
   */
  malformed(error: CsvError): DomainError {
    const context = error as CsvError & { lines?: number; empty_lines?: number };
    const recordStart = this.lastEnd + 1 + Math.max(0, (context.empty_lines ?? 0) - this.emptyLinesAtLastEnd);
    // CRs in the cells of the record being parsed are not known; they are rare.
    const line =
      error.code === 'CSV_QUOTE_NOT_CLOSED' || context.lines === undefined
        ? recordStart
        : Math.max(recordStart, context.lines - this.extra);
    const message =
      error.code === 'CSV_QUOTE_NOT_CLOSED'
        ? `Quote Not Closed: a quoted cell of the record starting on line ${line} is never closed`
        : error.message.replace(/\b(at|on) line \d+/, `$1 line ${line}`);
    return new DomainError(ErrorCode.Invalid, 'The CSV is malformed; nothing was imported', [
      { line, path: '(file)', message },
    ]);
  }
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

/**
 * Pipes `body` through a byte counter and `stages` and returns the last stage to
 * be iterated. Past `maxBytes` it fails with PayloadTooLarge; when the body sends
 * nothing for `idleTimeoutMs` while the caller waits, with BodyIdleTimeout.
 * `body` itself is never destroyed (the reply must still be sent): when iteration
 * stops, it is unpiped and whatever is left of it is discarded by the HTTP server.
 */
function pipeLimited(body: Readable, stages: readonly Transform[], limits: ReadLimits): AsyncIterable<unknown> {
  const target = stages.at(-1)!;
  const fail = (error: Error) => target.destroy(error);
  const idle = new IdleWatch(limits.idleTimeoutMs, () => fail(new BodyIdleTimeout(limits.idleTimeoutMs)));
  const deadline =
    limits.maxDurationMs === undefined
      ? undefined
      : setTimeout(() => fail(bodyTooSlow(limits.maxDurationMs!)), limits.maxDurationMs).unref();
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      idle.touch();
      bytes += chunk.length;
      if (bytes > limits.maxBytes) callback(bodyTooLarge(limits.maxBytes));
      else callback(null, chunk);
    },
  });
  const sources: (Readable | Transform)[] = [body, counter, ...stages.slice(0, -1)];
  for (const source of sources) source.on('error', fail);
  [counter, ...stages].reduce<Readable>((from, to) => from.pipe(to), body);
  return {
    async *[Symbol.asyncIterator]() {
      const items = target[Symbol.asyncIterator]();
      try {
        for (;;) {
          // Only waiting for the body counts: while the rows are written, it is not read.
          idle.arm();
          const next = (await items.next()) as IteratorResult<unknown>;
          idle.disarm();
          if (next.done === true) return;
          yield next.value;
        }
      } finally {
        idle.stop();
        clearTimeout(deadline);
        body.off('error', fail);
        body.unpipe(counter);
        for (const stage of [counter, ...stages]) stage.destroy();
      }
    },
  };
}

/**
 * Calls `onIdle` once when it has stayed armed, with no touch, for `timeoutMs`.
 * Arming and touching only note the time: one timer runs per period, not one per row.
 */
class IdleWatch {
  private armed = false;
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
  ) {}

  arm(): void {
    this.armed = true;
    this.since = Date.now();
    if (this.timer === undefined && !this.stopped) this.schedule(this.timeoutMs);
  }

  disarm(): void {
    this.armed = false;
  }

  touch(): void {
    this.since = Date.now();
  }

  /** Stops the timer for good. */
  stop(): void {
    this.armed = false;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => this.check(), delayMs);
    // An idle import must not keep the process alive on shutdown.
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    if (!this.armed || this.stopped) return;
    const waited = Date.now() - this.since;
    if (waited < this.timeoutMs) {
      this.schedule(this.timeoutMs - waited);
      return;
    }
    this.stop();
    this.onIdle();
  }
}

/** Splits text into lines (without their `\n`), pushing each chunk's complete lines as one array. */
class LineSplitter extends Transform {
  /** The pieces of the line not ended yet; joined once, when its `\n` arrives. */
  private pending: string[] = [];
  private pendingChars = 0;
  private lines = 0;

  constructor(private readonly maxLineChars: number) {
    super({ objectMode: true });
  }

  override _transform(text: string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const lines: string[] = [];
    let start = 0;
    // Only the new text is searched: a long line costs its length once, not once per chunk.
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const line = this.completeLine(text.slice(start, end));
      if (line.length > this.maxLineChars) {
        callback(this.tooLong());
        return;
      }
      this.lines += 1;
      lines.push(stripCarriageReturn(line));
      start = end + 1;
    }
    if (start < text.length) {
      this.pending.push(text.slice(start));
      this.pendingChars += text.length - start;
      if (this.pendingChars > this.maxLineChars) {
        callback(this.tooLong());
        return;
      }
    }
    callback(null, lines.length > 0 ? lines : undefined);
  }

  override _flush(callback: TransformCallback): void {
    const last = this.completeLine('');
    callback(null, last === '' ? undefined : [stripCarriageReturn(last)]);
  }

  /** The pending pieces followed by `end`, as one line; nothing is pending after. */
  private completeLine(end: string): string {
    if (this.pending.length === 0) return end;
    this.pending.push(end);
    const line = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    return line;
  }

  private tooLong(): DomainError {
    const line = this.lines + 1;
    const message = `is longer than ${this.maxLineChars} characters`;
    return new DomainError(ErrorCode.Invalid, `Line ${line} is too long; nothing was imported`, [
      { line, path: '(row)', message },
    ]);
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
