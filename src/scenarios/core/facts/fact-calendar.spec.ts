import { epochDayOf, isoDateOf, localEpochDay, utcEpochDay, windowDays } from './fact-calendar';

describe('fact calendar', () => {
  it('converts dates to epoch days and back', () => {
    expect(epochDayOf('1970-01-01')).toBe(0);
    expect(epochDayOf('2026-11-01')).toBe(20_758);
    expect(isoDateOf(20_758)).toBe('2026-11-01');
    expect(epochDayOf('2028-02-29') - epochDayOf('2028-02-28')).toBe(1);
    expect(() => epochDayOf('2026-1-1')).toThrow('not a date');
  });

  it('knows today in UTC and in a zone', () => {
    const now = new Date('2026-11-01T15:00:00Z');
    expect(isoDateOf(utcEpochDay(now))).toBe('2026-11-01');
    expect(isoDateOf(localEpochDay(now, 'Asia/Tokyo'))).toBe('2026-11-02');
    expect(isoDateOf(localEpochDay(now, 'America/Los_Angeles'))).toBe('2026-11-01');
    expect(isoDateOf(localEpochDay(new Date('2026-11-01T10:00:00Z'), 'Pacific/Kiritimati'))).toBe('2026-11-02');
    expect(isoDateOf(localEpochDay(new Date('2026-11-01T10:59:59Z'), 'Pacific/Pago_Pago'))).toBe('2026-10-31');
  });

  it('spans a window of N UTC days ending today', () => {
    expect(windowDays(new Date('2026-11-01T23:59:59.999Z'), 7)).toEqual({ from: '2026-10-26', to: '2026-11-01' });
    expect(windowDays(new Date('2026-11-02T00:00:00Z'), 1)).toEqual({ from: '2026-11-02', to: '2026-11-02' });
    expect(windowDays(new Date('2026-03-01T12:00:00Z'), 2)).toEqual({ from: '2026-02-28', to: '2026-03-01' });
  });
});
