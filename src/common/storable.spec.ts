import { isStorableText, isStorableTime, toEpochMicros, toPostgresTime, toStorableText } from './storable';

describe('storable text', () => {
  it('refuses NUL characters and unpaired surrogates, accepts everything else', () => {
    expect(isStorableText('😀 日本語 \u2028')).toBe(true);
    expect(isStorableText('\u0000')).toBe(false);
    expect(isStorableText('a\udc00')).toBe(false);
    expect(isStorableText('\ud83d')).toBe(false);
  });

  it('makes text storable: NUL dropped, unpaired surrogates as U+FFFD, pairs kept', () => {
    expect(toStorableText('a\u0000b \ud83d x \udc4d 😀')).toBe('ab \ufffd x \ufffd 😀');
  });
});

describe('storable times', () => {
  it('accepts years 1 to 9999 and refuses year 0, which JavaScript parses and PostgreSQL does not', () => {
    expect(isStorableTime('2026-12-03T10:00:00+09:00')).toBe(true);
    expect(isStorableTime('0001-06-01T00:00:00Z')).toBe(true);
    expect(isStorableTime('0000-01-01T00:00:00Z')).toBe(false);
    expect(isStorableTime('0001-01-01T00:00:00+01:00')).toBe(false);
    expect(isStorableTime('not a time')).toBe(false);
  });

  it('orders times to the microsecond, which Date cannot', () => {
    expect(toEpochMicros('2026-10-26T00:00:00.000250Z') - toEpochMicros('2026-10-26T00:00:00.000150Z')).toBe(100);
    expect(toEpochMicros('2026-10-26T09:00:00.5+09:00')).toBe(toEpochMicros('2026-10-26T00:00:00.500000Z'));
    expect(toEpochMicros('1969-12-31T23:59:59.9995Z')).toBe(-500);
  });

  it('passes times PostgreSQL reads as written, microseconds kept, and normalizes the rest to UTC', () => {
    expect(toPostgresTime('2026-12-03T10:00:00.123456+09:00')).toBe('2026-12-03T10:00:00.123456+09:00');
    expect(toPostgresTime('2026-12-03T10:00:00+16:00')).toBe('2026-12-02T18:00:00.000Z');
    expect(toPostgresTime('2026-12-03T10:00:00.1234567Z')).toBe('2026-12-03T10:00:00.123Z');
  });
});
