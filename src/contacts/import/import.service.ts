import { Inject, Injectable } from '@nestjs/common';
import { setImmediate } from 'node:timers/promises';
import type { EntityManager } from 'typeorm';
import type { z } from 'zod';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { normaliseEmail } from '../../common/email';
import { toFieldIssues } from '../../common/zod-issues';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import {
  type AccountInput,
  accountInputSchema,
  type ContactInput,
  contactInputSchema,
  type CsmInput,
  csmInputSchema,
} from '../contacts.schemas';
import { ImportReport } from './import-report';
import { tooManyRows } from './import-request.util';
import { type AccountImportRow, type ContactImportRow, type CsmImportRow, ImportRepository } from './import.repository';
import type { ImportKind, ImportOutcome, RowIssue, SourceRow } from './import.types';
import { type IssuedWrite, WritePipeline } from './write-pipeline';

/** Rows written per statement. */
export const IMPORT_BATCH_SIZE = 2000;
/** Parsing pauses this often so the answers for the batch being written are read promptly. */
const YIELD_EVERY_ROWS = 25;
/** Account and CSM ids kept per import, so most batches need not look them up. */
const MAX_CACHED_REFERENCES = 100_000;

export interface ImportOptions {
  /** Commit the valid rows even when some are bad (they are reported and skipped). */
  skipInvalid: boolean;
}

/** The names of the string fields of `I`. */
type StringField<I> = { [K in keyof I]: I[K] extends string ? K : never }[keyof I] & string;

interface UpsertCounts {
  created: number;
  updated: number;
}

interface BatchRow<I> {
  line: number;
  input: I;
}

/** What differs between the three imports: the row schema, the keys unique in a file, and the batch writer. */
interface ImportPlan<I> {
  schema: z.ZodType<I>;
  /** Normalises a parsed row (emails) before the duplicate check. */
  prepare(input: I): I;
  /** Fields whose values may appear only once in a file. */
  uniqueFields: readonly StringField<I>[];
  /** The batch writer of one import: checks a batch's references, reports bad rows, writes the good ones. */
  writer(m: EntityManager): BatchWriter<I>;
}

/**
 * Checks a batch against the database, reports its bad rows and sends the writes
 * of the good ones; resolves once they are sent, with their completion.
 */
type BatchWriter<I> = (batch: BatchRow<I>[], report: ImportReport) => Promise<IssuedWrite<UpsertCounts>>;

/**
 * Bulk upsert of CSMs, accounts and contacts from a stream of rows. Rows are
 * validated as they arrive and written in batches inside one transaction: all or
 * nothing unless `skipInvalid`, in which case bad rows are reported and skipped.
 */
@Injectable()
export class ImportService {
  private readonly maxRows: number;

  constructor(
    private readonly repository: ImportRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.maxRows = config.import.maxRows;
  }

  import(kind: ImportKind, rows: AsyncIterable<SourceRow>, options: ImportOptions): Promise<ImportOutcome> {
    switch (kind) {
      case 'csms':
        return this.run(rows, options, this.csmPlan);
      case 'accounts':
        return this.run(rows, options, this.accountPlan);
      case 'contacts':
        return this.run(rows, options, this.contactPlan);
    }
  }

  /**
   * Validates the rows into batches and writes them in one transaction. The
   * transaction (and on the embedded engine the only connection) is taken only
   * once the first batch is ready or the body has ended: a body that is slow to
   * start, or stalls before its first batch, holds nothing.
   */
  private async run<I>(
    rows: AsyncIterable<SourceRow>,
    options: ImportOptions,
    plan: ImportPlan<I>,
  ): Promise<ImportOutcome> {
    const report = new ImportReport();
    const batches = this.validBatches(rows, plan, report);
    try {
      const first = await batches.next();
      if (first.done === true) return outcomeOf(report, options, { created: 0, updated: 0 });
      return await this.repository.inTransaction(async (m) => {
        const totals = await this.write(m, plan, report, first.value, batches);
        const outcome = outcomeOf(report, options, totals);
        return { commit: outcome.committed, result: outcome };
      });
    } finally {
      // Stops reading the body when the import ended early (an error, a failed connection).
      await batches.return(undefined);
    }
  }

  /** Validates the rows and yields the valid ones in batches; bad rows go to the report. */
  private async *validBatches<I>(
    rows: AsyncIterable<SourceRow>,
    plan: ImportPlan<I>,
    report: ImportReport,
  ): AsyncGenerator<BatchRow<I>[], void, undefined> {
    const firstLines = plan.uniqueFields.map((field) => ({ field, lines: new Map<string, number>() }));
    let batch: BatchRow<I>[] = [];
    for await (const row of rows) {
      if (report.countRow() > this.maxRows) throw tooManyRows(this.maxRows);
      // Rows already buffered are parsed without ever leaving the microtask queue;
      // yielding lets the database's answers for the batch being written through.
      if (report.rows % YIELD_EVERY_ROWS === 0) await setImmediate();
      if (!row.ok) {
        report.reject(row.line, row.issues);
        continue;
      }
      const parsed = plan.schema.safeParse(row.record);
      if (!parsed.success) {
        report.reject(row.line, rowIssues(parsed.error));
        continue;
      }
      const input = plan.prepare(parsed.data);
      const repeats = repeatedValues(firstLines, row.line, input);
      if (repeats.length > 0) {
        report.reject(row.line, repeats);
        continue;
      }
      batch.push({ line: row.line, input });
      if (batch.length >= IMPORT_BATCH_SIZE) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** Writes `first` and the batches still to come; returns how many rows were created and updated. */
  private async write<I>(
    m: EntityManager,
    plan: ImportPlan<I>,
    report: ImportReport,
    first: BatchRow<I>[],
    rest: AsyncIterator<BatchRow<I>[]>,
  ): Promise<UpsertCounts> {
    const totals: UpsertCounts = { created: 0, updated: 0 };
    const writeBatch = plan.writer(m);
    const pipeline = new WritePipeline<UpsertCounts>((counts) => {
      totals.created += counts.created;
      totals.updated += counts.updated;
    });
    const submit = (batch: BatchRow<I>[]) =>
      pipeline.submit(async () => {
        const issued = await writeBatch(batch, report);
        return { written: issued.written.catch(rethrowConcurrentWrite) };
      });
    try {
      await submit(first);
      for (let next = await rest.next(); next.done !== true; next = await rest.next()) await submit(next.value);
      await pipeline.drain();
    } catch (error: unknown) {
      // Let the statements in flight finish before the transaction is rolled back.
      await pipeline.abandon();
      throw error;
    }
    return totals;
  }

  // ---- the three imports ------------------------------------------------

  private readonly csmPlan: ImportPlan<CsmInput> = {
    schema: csmInputSchema,
    prepare: (input) => ({ ...input, email: normaliseEmail(input.email) }),
    uniqueFields: ['externalId', 'email'],
    writer: (m) => async (batch, report) => {
      const inputs = batch.map((r) => r.input);
      const existing = await this.repository.existingCsmKeys(
        m,
        inputs.map((i) => i.externalId),
        inputs.map((i) => i.email),
      );
      const good: CsmImportRow[] = [];
      for (const { line, input } of batch) {
        const holder = existing.emailHolders.get(input.email);
        if (holder !== undefined && holder !== input.externalId) {
          report.reject(line, [{ path: 'email', message: `already belongs to CSM ${holder}` }]);
        } else {
          good.push(input);
        }
      }
      const [updates, inserts] = partition(good, (row) => existing.externalIds.has(row.externalId));
      return issue(this.repository.insertCsms(m, inserts), this.repository.updateCsms(m, updates), inserts, updates);
    },
  };

  private readonly accountPlan: ImportPlan<AccountInput> = {
    schema: accountInputSchema,
    prepare: (input) => input,
    uniqueFields: ['externalId'],
    writer: (m) => {
      const csmIds = cachedLookup((ids) => this.repository.csmIds(m, ids));
      return async (batch, report) => {
        const ownerIdOf = await csmIds(distinct(batch.map((r) => r.input.ownerCsmExternalId)));
        const existing = await this.repository.accountIds(
          m,
          batch.map((r) => r.input.externalId),
        );
        const good: AccountImportRow[] = [];
        for (const { line, input } of batch) {
          const owner = input.ownerCsmExternalId;
          if (owner == null) {
            good.push(owner === null ? { ...input, ownerCsmId: null } : input);
            continue;
          }
          const ownerCsmId = ownerIdOf(owner);
          if (ownerCsmId === undefined) {
            report.reject(line, [{ path: 'ownerCsmExternalId', message: `no CSM with external id ${owner}` }]);
          } else {
            good.push({ ...input, ownerCsmId });
          }
        }
        const [updates, inserts] = partition(good, (row) => existing.has(row.externalId));
        return issue(
          this.repository.insertAccounts(m, inserts),
          this.repository.updateAccounts(m, updates),
          inserts,
          updates,
        );
      };
    },
  };

  private readonly contactPlan: ImportPlan<ContactInput> = {
    schema: contactInputSchema,
    prepare: (input) => ({
      ...input,
      email: normaliseEmail(input.email),
      ...(input.roles === undefined ? {} : { roles: [...new Set(input.roles)] }),
    }),
    uniqueFields: ['externalId', 'email'],
    writer: (m) => {
      const accountIds = cachedLookup((ids) => this.repository.accountIds(m, ids));
      return async (batch, report) => {
        const inputs = batch.map((r) => r.input);
        const accountIdOf = await accountIds(distinct(inputs.map((i) => i.accountExternalId)));
        const existing = await this.repository.existingContactKeys(
          m,
          inputs.map((i) => i.externalId),
          inputs.map((i) => i.email),
        );
        const good: ContactImportRow[] = [];
        for (const { line, input } of batch) {
          const issues: RowIssue[] = [];
          const accountId = accountIdOf(input.accountExternalId);
          if (accountId === undefined) {
            issues.push({
              path: 'accountExternalId',
              message: `no account with external id ${input.accountExternalId}`,
            });
          }
          const holder = existing.emailHolders.get(input.email);
          if (holder !== undefined && holder !== input.externalId) {
            issues.push({ path: 'email', message: `already belongs to contact ${holder}` });
          }
          if (accountId === undefined || issues.length > 0) report.reject(line, issues);
          else good.push({ ...input, accountId });
        }
        const [updates, inserts] = partition(good, (row) => existing.externalIds.has(row.externalId));
        return issue(
          this.repository.insertContacts(m, inserts),
          this.repository.updateContacts(m, updates),
          inserts,
          updates,
        );
      };
    },
  };
}

/** What an import answers: committed when every row was valid, or bad ones may be skipped. */
function outcomeOf(report: ImportReport, options: ImportOptions, totals: UpsertCounts): ImportOutcome {
  const commit = report.invalid === 0 || options.skipInvalid;
  return {
    committed: commit,
    rows: report.rows,
    valid: report.valid,
    invalid: report.invalid,
    created: commit ? totals.created : 0,
    updated: commit ? totals.updated : 0,
    issues: report.issues(),
    totalIssues: report.totalIssues,
  };
}

/** Schema issues of one row; a problem with the row as a whole is reported at `(row)`. */
function rowIssues(error: z.ZodError): RowIssue[] {
  return toFieldIssues(error.issues).map((issue) => (issue.path === '(body)' ? { ...issue, path: '(row)' } : issue));
}

/**
 * Records the first line of each value of the unique fields and returns an
 * issue for each value an earlier line already had.
 */
function repeatedValues<I>(
  firstLines: readonly { field: StringField<I>; lines: Map<string, number> }[],
  line: number,
  input: I,
): RowIssue[] {
  const issues: RowIssue[] = [];
  for (const { field, lines } of firstLines) {
    const value = input[field] as string;
    const first = lines.get(value);
    if (first === undefined) lines.set(value, line);
    else issues.push({ path: field, message: `repeats line ${first}: each ${field} may appear only once in a file` });
  }
  return issues;
}

/** Both statements are sent now, in this order; the counts follow when both are done. */
function issue(
  inserting: Promise<void>,
  updating: Promise<void>,
  inserts: readonly unknown[],
  updates: readonly unknown[],
): IssuedWrite<UpsertCounts> {
  const written = Promise.all([inserting, updating]).then(() => ({ created: inserts.length, updated: updates.length }));
  return { written };
}

/**
 * Resolves external ids to ids, asking the database only about those this
 * import has not resolved yet (at most MAX_CACHED_REFERENCES are kept).
 * Unknown ids are asked again: they are few, and only in bad files.
 */
function cachedLookup(
  lookup: (externalIds: string[]) => Promise<Map<string, string>>,
): (externalIds: string[]) => Promise<(externalId: string) => string | undefined> {
  const known = new Map<string, string>();
  return async (externalIds) => {
    const missing = externalIds.filter((id) => !known.has(id));
    const found = missing.length > 0 ? await lookup(missing) : new Map<string, string>();
    for (const [externalId, id] of found) if (known.size < MAX_CACHED_REFERENCES) known.set(externalId, id);
    return (externalId) => known.get(externalId) ?? found.get(externalId);
  };
}

/** Splits `items` into those matching `test` and the others. */
function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

function distinct(values: (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string'))];
}

/** The file was checked against the database; a unique violation now means another writer got in between. */
function rethrowConcurrentWrite(error: unknown): never {
  const pg = error as { driverError?: { code?: string } };
  // 23505: unique violation; 23503: a referenced account or CSM was deleted meanwhile.
  if (pg.driverError?.code === '23505' || pg.driverError?.code === '23503') {
    throw new DomainError(
      ErrorCode.Conflict,
      'Another request wrote some of the same records during the import; nothing was imported. Send the file again.',
    );
  }
  throw error;
}
