import { Controller, HttpCode, Inject, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { ApiKeyGuard } from '../../common/api-key.guard';
import { DomainError, ErrorCode, type FieldIssue } from '../../common/domain-error';
import { parseOrThrow } from '../../common/zod-issues';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import {
  assertDeclaredLengthWithin,
  BodyIdleTimeout,
  importQuerySchema,
  parseImportContentType,
} from './import-request.util';
import { ImportService } from './import.service';
import type { ImportKind, ImportOutcome, SourceRow } from './import.types';
import { BODY_IDLE_TIMEOUT_MS, readCsvRows, readNdjsonRows } from './row-readers';

/** 200: the rows were committed (bad rows skipped only with `skipInvalid=true`). */
export interface ImportResultView {
  rows: number;
  created: number;
  updated: number;
  skipped: number;
  issues: FieldIssue[];
  totalIssues: number;
}

/** 400: some rows were bad and nothing was written. */
export interface ImportRejectedView {
  error: ErrorCode.Invalid;
  message: string;
  issues: FieldIssue[];
  summary: { rows: number; valid: number; invalid: number; created: 0; updated: 0; totalIssues: number };
}

/** 408: the body stopped arriving; nothing was written. */
export interface ImportTimedOutView {
  error: 'request_timeout';
  message: string;
}

type ImportView = ImportResultView | ImportRejectedView | ImportTimedOutView;

/**
 * Bulk upsert by external id: `POST /api/{csms,accounts,contacts}/import` with a
 * `text/csv` or `application/x-ndjson` body, streamed. See ImportService.
 */
@Controller('api')
@UseGuards(ApiKeyGuard)
export class ImportController {
  /** How long an import waits for more of its body; BODY_IDLE_TIMEOUT_MS, shortened by tests. */
  bodyIdleTimeoutMs = BODY_IDLE_TIMEOUT_MS;

  constructor(
    private readonly imports: ImportService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('csms/import')
  @HttpCode(200)
  importCsms(
    @Req() request: FastifyRequest,
    @Query() query: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ImportView> {
    return this.run('csms', request, query, reply);
  }

  @Post('accounts/import')
  @HttpCode(200)
  importAccounts(
    @Req() request: FastifyRequest,
    @Query() query: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ImportView> {
    return this.run('accounts', request, query, reply);
  }

  @Post('contacts/import')
  @HttpCode(200)
  importContacts(
    @Req() request: FastifyRequest,
    @Query() query: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ImportView> {
    return this.run('contacts', request, query, reply);
  }

  private async run(
    kind: ImportKind,
    request: FastifyRequest,
    query: unknown,
    reply: FastifyReply,
  ): Promise<ImportView> {
    const format = parseImportContentType(request.headers['content-type']);
    const { skipInvalid } = parseOrThrow(importQuerySchema, query, 'query');
    const { maxBytes } = this.config.import;
    assertDeclaredLengthWithin(request.headers['content-length'], maxBytes);
    const body = request.body;
    if (!(body instanceof Readable)) {
      throw new DomainError(ErrorCode.UnsupportedMediaType, 'The import body could not be read as a stream');
    }
    const limits = { maxBytes, idleTimeoutMs: this.bodyIdleTimeoutMs, maxDurationMs: this.config.import.maxDurationMs };
    const rows: AsyncIterable<SourceRow> =
      format === 'csv' ? readCsvRows(body, kind, limits) : readNdjsonRows(body, limits);
    let outcome: ImportOutcome;
    try {
      outcome = await this.imports.import(kind, rows, { skipInvalid });
    } catch (error: unknown) {
      if (!(error instanceof BodyIdleTimeout)) throw error;
      // The rest of the body is not read: closing the connection after the answer
      // keeps a stalled client from holding the socket too.
      void reply.status(408).header('connection', 'close');
      return { error: 'request_timeout', message: error.message };
    }
    if (!outcome.committed) {
      void reply.status(400);
      return rejectedView(outcome);
    }
    return {
      rows: outcome.rows,
      created: outcome.created,
      updated: outcome.updated,
      skipped: outcome.invalid,
      issues: outcome.issues,
      totalIssues: outcome.totalIssues,
    };
  }
}

function rejectedView(outcome: ImportOutcome): ImportRejectedView {
  const { rows, valid, invalid, totalIssues } = outcome;
  return {
    error: ErrorCode.Invalid,
    message:
      `${invalid} of ${rows} rows are invalid; nothing was imported. ` +
      'Fix them, or send skipInvalid=true to import the valid rows and skip these.',
    issues: outcome.issues,
    summary: { rows, valid, invalid, created: 0, updated: 0, totalIssues },
  };
}
