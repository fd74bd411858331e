import { DomainError, ErrorCode } from '../../common/domain-error';
import { assertDeclaredLengthWithin, importQuerySchema, parseImportContentType } from './import-request.util';

function errorOf(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error: unknown) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('parseImportContentType', () => {
  it('accepts CSV and NDJSON, with or without a UTF-8 charset', () => {
    expect(parseImportContentType('text/csv')).toBe('csv');
    expect(parseImportContentType('Text/CSV; charset=UTF-8')).toBe('csv');
    expect(parseImportContentType('application/x-ndjson')).toBe('ndjson');
    expect(parseImportContentType('application/ndjson; charset="utf-8"')).toBe('ndjson');
  });

  it('rejects other types and charsets as unsupported media', () => {
    const json = errorOf(() => parseImportContentType('application/json'));
    expect(json.code).toBe(ErrorCode.UnsupportedMediaType);
    expect(json.message).toContain('text/csv or application/x-ndjson');
    expect(json.message).toContain('application/json');
    expect(errorOf(() => parseImportContentType(undefined)).message).toContain('no Content-Type');
    expect(errorOf(() => parseImportContentType('text/csv; charset=shift_jis')).message).toContain('UTF-8');
  });
});

describe('assertDeclaredLengthWithin', () => {
  it('rejects a declared length above the limit', () => {
    expect(() => assertDeclaredLengthWithin(undefined, 10)).not.toThrow();
    expect(() => assertDeclaredLengthWithin('10', 10)).not.toThrow();
    expect(errorOf(() => assertDeclaredLengthWithin('11', 10)).code).toBe(ErrorCode.PayloadTooLarge);
  });
});

describe('importQuerySchema', () => {
  it('defaults skipInvalid to false and rejects unknown parameters', () => {
    expect(importQuerySchema.parse({})).toEqual({ skipInvalid: false });
    expect(importQuerySchema.parse({ skipInvalid: 'true' })).toEqual({ skipInvalid: true });
    expect(importQuerySchema.safeParse({ skipInvalid: 'yes' }).success).toBe(false);
    expect(importQuerySchema.safeParse({ dryRun: 'true' }).success).toBe(false);
  });
});
