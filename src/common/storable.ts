/*
 * What PostgreSQL can store, checked before it is asked to: text without NUL characters or
 * unpaired UTF-16 surrogates, and times it reads as the same instant JavaScript does. A value
 * that fails here would otherwise come back from the database as an error (a 500, or a batch
 * failed whole) instead of a 400 naming the field.
 */

const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unpairedSurrogates = new RegExp(unpairedSurrogate.source, 'g');

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain NUL characters or unpaired surrogates';

/** False for text PostgreSQL cannot store: NUL characters and unpaired UTF-16 surrogates. */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !unpairedSurrogate.test(value);
}

/**
 * Text PostgreSQL can store: NUL characters dropped, unpaired surrogates (half an emoji cut
 * by a page's own script, say) replaced by U+FFFD, as `String.prototype.toWellFormed` does.
 */
export function toStorableText(value: string): string {
  return value.replaceAll('\u0000', '').replace(unpairedSurrogates, '\uFFFD');
}

/**
 * An ISO 8601 time PostgreSQL reads as the same instant as JavaScript: at most 6 fractional
 * digits and an offset within +-15:59.
 */
const POSTGRES_SAFE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-](0\d|1[0-5]):[0-5]\d)$/;

/** Earliest and latest instants a stored time may have: years 1 to 9999 (PostgreSQL has no year 0). */
const FIRST_MS = new Date('0001-01-02T00:00:00Z').getTime();
const LAST_MS = new Date('9999-12-30T00:00:00Z').getTime();

/**
 * True for a time (already checked as ISO 8601) PostgreSQL stores as written: in years 1 to
 * 9999 (a day of margin at both ends, for offsets). Year 0000 parses in JavaScript but not in
 * PostgreSQL.
 */
export function isStorableTime(text: string): boolean {
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && ms >= FIRST_MS && ms <= LAST_MS;
}

/** Microseconds since the epoch of an ISO 8601 time (JavaScript's Date keeps milliseconds only). */
export function toEpochMicros(text: string): number {
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
  return Date.parse(text) * 1000 + Number(fraction.padEnd(6, '0').slice(3, 6));
}

/**
 * The time as PostgreSQL should get it: as written when it reads it the same way (no Date
 * round trip, microseconds kept), otherwise normalized to UTC (`+16:00`, 7+ fractional digits).
 */
export function toPostgresTime(text: string): string {
  return POSTGRES_SAFE_TIME.test(text) ? text : new Date(text).toISOString();
}
