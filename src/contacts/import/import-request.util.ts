import { z } from 'zod';
import { DomainError, ErrorCode } from '../../common/domain-error';
import type { ImportFormat } from './import.types';

const formatByMediaType: Record<string, ImportFormat> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
};

export const ACCEPTED_IMPORT_TYPES = 'text/csv or application/x-ndjson (UTF-8)';

/** Query of the import endpoints: `skipInvalid=true` commits the valid rows and reports the others. */
export const importQuerySchema = z.strictObject({
  skipInvalid: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .optional()
    .transform((v) => v === 'true'),
});

/** The format of an import body from its Content-Type; throws UnsupportedMediaType for anything else. */
export function parseImportContentType(contentType: string | undefined): ImportFormat {
  const [essence = '', ...params] = (contentType ?? '').split(';');
  const format = formatByMediaType[essence.trim().toLowerCase()];
  if (format === undefined) {
    const got = contentType === undefined || contentType.trim() === '' ? 'no Content-Type' : essence.trim();
    throw new DomainError(ErrorCode.UnsupportedMediaType, `Import bodies must be ${ACCEPTED_IMPORT_TYPES}; got ${got}`);
  }
  for (const param of params) {
    const [name = '', value = ''] = param.split('=');
    const charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
    if (name.trim().toLowerCase() === 'charset' && charset !== 'utf-8' && charset !== 'utf8') {
      throw new DomainError(ErrorCode.UnsupportedMediaType, `Import bodies must be UTF-8; got charset=${charset}`);
    }
  }
  return format;
}

/** Rejects a body whose declared Content-Length is already above the limit, before reading any of it. */
export function assertDeclaredLengthWithin(contentLength: string | undefined, maxBytes: number): void {
  if (contentLength === undefined) return;
  const declared = Number(contentLength);
  if (Number.isFinite(declared) && declared > maxBytes) throw bodyTooLarge(maxBytes);
}

export function bodyTooLarge(maxBytes: number): DomainError {
  return new DomainError(ErrorCode.PayloadTooLarge, `The import body is larger than ${maxBytes} bytes; split the file`);
}

export function tooManyRows(maxRows: number): DomainError {
  return new DomainError(ErrorCode.PayloadTooLarge, `The import has more than ${maxRows} rows; split the file`);
}

/** The client stopped sending the import body, or sent it too slowly; the controller answers 408. */
export class BodyIdleTimeout extends Error {
  constructor(
    readonly idleMs: number,
    reason = `No part of the import body arrived for ${formatSeconds(idleMs)}`,
  ) {
    super(`${reason}; the import was stopped and nothing was imported. Send the file again`);
    this.name = 'BodyIdleTimeout';
  }
}

/** The body kept arriving, but not all of it within IMPORT_MAX_DURATION (a trickle holds the transaction). */
export function bodyTooSlow(maxDurationMs: number): BodyIdleTimeout {
  return new BodyIdleTimeout(
    maxDurationMs,
    `The import body did not arrive in full within ${formatSeconds(maxDurationMs)} (IMPORT_MAX_DURATION)`,
  );
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
