import { DomainError, ErrorCode } from '../common/domain-error';

/** Opaque cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, length: number): (string | number)[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  return cursorValues(parsed, length);
}

/** The decoded key when it is `length` strings or numbers; otherwise the 400 every bad cursor gets. */
export function cursorValues(parsed: unknown, length: number): (string | number)[] {
  if (
    Array.isArray(parsed) &&
    parsed.length === length &&
    parsed.every((v) => typeof v === 'string' || typeof v === 'number')
  ) {
    return parsed;
  }
  throw new DomainError(ErrorCode.Invalid, 'Invalid cursor', [
    { path: 'cursor', message: 'is not a cursor this API returned' },
  ]);
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
