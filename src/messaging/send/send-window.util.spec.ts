import {
  localDayStart,
  nextAllowedSendTime,
  nextLocalDayStart,
  type SendWindowRules,
  validTimeZone,
} from './send-window.util';

const WEEKDAYS = [1, 2, 3, 4, 5];
const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];
/** Quiet from 20:00 to 09:00 local (wraps midnight), Monday to Friday. */
const OFFICE: SendWindowRules = { quietHours: { start: '20:00', end: '09:00' }, businessDays: WEEKDAYS };
const TOKYO = 'Asia/Tokyo';
const NEW_YORK = 'America/New_York';

const at = (iso: string) => new Date(iso);
const next = (now: string, zone: string, rules: SendWindowRules = OFFICE) =>
  nextAllowedSendTime(at(now), zone, rules).toISOString();

describe('nextAllowedSendTime', () => {
  describe('quiet hours wrapping midnight (20:00-09:00), weekdays', () => {
    it('returns now itself inside the window', () => {
      const now = at('2026-11-18T02:00:00.123Z'); // Wed 11:00:00.123 JST
      expect(nextAllowedSendTime(now, TOKYO, OFFICE)).toEqual(now);
    });

    it('opens at 09:00 local, inclusive, and closes at 20:00 local, exclusive', () => {
      expect(next('2026-11-18T00:00:00Z', TOKYO)).toBe('2026-11-18T00:00:00.000Z'); // Wed 09:00 JST
      expect(next('2026-11-18T10:59:59Z', TOKYO)).toBe('2026-11-18T10:59:59.000Z'); // Wed 19:59:59 JST
      expect(next('2026-11-18T11:00:00Z', TOKYO)).toBe('2026-11-19T00:00:00.000Z'); // Wed 20:00 -> Thu 09:00 JST
    });

    it('holds a message due in the evening until 09:00 the next morning', () => {
      expect(next('2026-11-18T13:30:00Z', TOKYO)).toBe('2026-11-19T00:00:00.000Z'); // Wed 22:30 JST
    });

    it('holds a message due after midnight until 09:00 the same local day', () => {
      expect(next('2026-11-18T17:00:00Z', TOKYO)).toBe('2026-11-19T00:00:00.000Z'); // Thu 02:00 JST
      expect(next('2026-11-18T23:59:00Z', TOKYO)).toBe('2026-11-19T00:00:00.000Z'); // Thu 08:59 JST
    });
  });

  describe('quiet hours not wrapping midnight (12:00-13:00)', () => {
    const LUNCH: SendWindowRules = { quietHours: { start: '12:00', end: '13:00' }, businessDays: WEEKDAYS };

    it('sends before and after the quiet hour, holds inside it until its end', () => {
      expect(next('2026-11-18T02:59:00Z', TOKYO, LUNCH)).toBe('2026-11-18T02:59:00.000Z'); // 11:59 JST
      expect(next('2026-11-18T03:00:00Z', TOKYO, LUNCH)).toBe('2026-11-18T04:00:00.000Z'); // 12:00 -> 13:00 JST
      expect(next('2026-11-18T03:30:00Z', TOKYO, LUNCH)).toBe('2026-11-18T04:00:00.000Z'); // 12:30 -> 13:00 JST
      expect(next('2026-11-18T04:00:00Z', TOKYO, LUNCH)).toBe('2026-11-18T04:00:00.000Z'); // 13:00 JST
    });

    it('sends at night and in the early morning of a business day', () => {
      expect(next('2026-11-18T14:30:00Z', TOKYO, LUNCH)).toBe('2026-11-18T14:30:00.000Z'); // Wed 23:30 JST
      expect(next('2026-11-17T15:00:00Z', TOKYO, LUNCH)).toBe('2026-11-17T15:00:00.000Z'); // Wed 00:00 JST
    });

    it('skips a weekend to Monday 00:00 local, the first allowed minute', () => {
      expect(next('2026-11-21T03:00:00Z', TOKYO, LUNCH)).toBe('2026-11-22T15:00:00.000Z'); // Sat 12:00 -> Mon 00:00 JST
    });
  });

  describe('business days', () => {
    it('skips a weekend: Friday night and Saturday noon go out on Monday 09:00 local', () => {
      expect(next('2026-11-20T14:00:00Z', TOKYO)).toBe('2026-11-23T00:00:00.000Z'); // Fri 23:00 JST
      expect(next('2026-11-21T03:00:00Z', TOKYO)).toBe('2026-11-23T00:00:00.000Z'); // Sat 12:00 JST
      expect(next('2026-11-22T23:00:00Z', TOKYO)).toBe('2026-11-23T00:00:00.000Z'); // Mon 08:00 JST
    });

    it('evaluates the weekday in local time, not UTC', () => {
      // Sun 2026-11-22 20:00 UTC is already Mon 05:00 in Tokyo: held to Mon 09:00, not Tue.
      expect(next('2026-11-22T20:00:00Z', TOKYO)).toBe('2026-11-23T00:00:00.000Z');
      // Sat 2026-11-21 02:00 UTC is still Fri 21:00 in New York: held to Mon 09:00 EST.
      expect(next('2026-11-21T02:00:00Z', NEW_YORK)).toBe('2026-11-23T14:00:00.000Z');
    });

    it('honours a custom set of days (Tuesday and Thursday only)', () => {
      const rules: SendWindowRules = { quietHours: OFFICE.quietHours, businessDays: [2, 4] };
      expect(next('2026-11-18T02:00:00Z', TOKYO, rules)).toBe('2026-11-19T00:00:00.000Z'); // Wed 11:00 -> Thu 09:00
      expect(next('2026-11-19T12:00:00Z', TOKYO, rules)).toBe('2026-11-24T00:00:00.000Z'); // Thu 21:00 -> Tue 09:00
    });

    it('throws when no business day is configured', () => {
      expect(() =>
        nextAllowedSendTime(at('2026-11-18T02:00:00Z'), TOKYO, { quietHours: OFFICE.quietHours, businessDays: [] }),
      ).toThrow('No business days configured');
    });
  });

  describe('time zones', () => {
    it('gives Tokyo and New York different answers for the same instant', () => {
      const instant = '2026-11-18T02:00:00Z'; // Wed 11:00 JST = Tue 21:00 EST
      expect(next(instant, TOKYO)).toBe('2026-11-18T02:00:00.000Z');
      expect(next(instant, NEW_YORK)).toBe('2026-11-18T14:00:00.000Z'); // Wed 09:00 EST
    });

    it('and the other way round: after midnight in Tokyo, mid-morning in New York', () => {
      const instant = '2026-11-18T15:00:00Z'; // Thu 00:00 JST = Wed 10:00 EST
      expect(next(instant, TOKYO)).toBe('2026-11-19T00:00:00.000Z'); // Thu 09:00 JST
      expect(next(instant, NEW_YORK)).toBe('2026-11-18T15:00:00.000Z');
    });
  });

  describe('across the US daylight-saving changes (America/New_York)', () => {
    const EVERY_DAY_OFFICE: SendWindowRules = { quietHours: OFFICE.quietHours, businessDays: EVERY_DAY };

    it('spring forward (Sun 2026-03-08): 09:00 EDT is 13:00 UTC, not 14:00', () => {
      const saturdayNight = '2026-03-08T03:00:00Z'; // Sat 2026-03-07 22:00 EST (UTC-5)
      expect(next(saturdayNight, NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-03-08T13:00:00.000Z'); // Sun 09:00 EDT
      expect(next(saturdayNight, NEW_YORK)).toBe('2026-03-09T13:00:00.000Z'); // next business day: Mon 09:00 EDT
      // Held across the change itself: Sun 01:30 EST -> Sun 09:00 EDT.
      expect(next('2026-03-08T06:30:00Z', NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-03-08T13:00:00.000Z');
    });

    it('fall back (Sun 2026-11-01): 09:00 EST is 14:00 UTC, not 13:00', () => {
      const saturdayNight = '2026-11-01T02:00:00Z'; // Sat 2026-10-31 22:00 EDT (UTC-4)
      expect(next(saturdayNight, NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-11-01T14:00:00.000Z'); // Sun 09:00 EST
      expect(next(saturdayNight, NEW_YORK)).toBe('2026-11-02T14:00:00.000Z'); // next business day: Mon 09:00 EST
      // The repeated hour (01:30 EDT, then 01:30 EST) is quiet both times.
      expect(next('2026-11-01T05:30:00Z', NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-11-01T14:00:00.000Z');
      expect(next('2026-11-01T06:30:00Z', NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-11-01T14:00:00.000Z');
    });

    it('closes at 20:00 local on both sides of the change', () => {
      expect(next('2026-03-07T00:59:00Z', NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-03-07T00:59:00.000Z'); // Fri 19:59 EST
      expect(next('2026-03-10T00:00:00Z', NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-03-10T13:00:00.000Z'); // Mon 20:00 EDT
      expect(next('2026-03-09T23:59:00Z', NEW_YORK, EVERY_DAY_OFFICE)).toBe('2026-03-09T23:59:00.000Z'); // Mon 19:59 EDT
    });

    it('Tokyo has no daylight saving: the same rules give 00:00 UTC all year', () => {
      expect(next('2026-03-07T13:00:00Z', TOKYO, EVERY_DAY_OFFICE)).toBe('2026-03-08T00:00:00.000Z');
      expect(next('2026-10-31T13:00:00Z', TOKYO, EVERY_DAY_OFFICE)).toBe('2026-11-01T00:00:00.000Z');
    });
  });

  describe('start equal to end: no quiet hours', () => {
    const NONE: SendWindowRules = { quietHours: { start: '00:00', end: '00:00' }, businessDays: WEEKDAYS };
    const SAME: SendWindowRules = { quietHours: { start: '09:00', end: '09:00' }, businessDays: WEEKDAYS };

    it('sends at any hour of a business day', () => {
      for (const rules of [NONE, SAME]) {
        expect(next('2026-11-18T17:00:00Z', TOKYO, rules)).toBe('2026-11-18T17:00:00.000Z'); // Thu 02:00 JST
        expect(next('2026-11-18T14:59:59Z', TOKYO, rules)).toBe('2026-11-18T14:59:59.000Z'); // Wed 23:59:59 JST
      }
    });

    it('still skips days that are not business days, to local midnight', () => {
      expect(next('2026-11-21T03:00:00Z', TOKYO, NONE)).toBe('2026-11-22T15:00:00.000Z'); // Sat -> Mon 00:00 JST
      expect(next('2026-11-21T03:00:00Z', TOKYO, SAME)).toBe('2026-11-22T15:00:00.000Z');
    });
  });

  it('keeps quiet hours ending at midnight (20:00-00:00) to the same evening', () => {
    const rules: SendWindowRules = { quietHours: { start: '20:00', end: '00:00' }, businessDays: EVERY_DAY };
    expect(next('2026-11-18T12:00:00Z', TOKYO, rules)).toBe('2026-11-18T15:00:00.000Z'); // Wed 21:00 -> Thu 00:00
    expect(next('2026-11-18T15:00:00Z', TOKYO, rules)).toBe('2026-11-18T15:00:00.000Z'); // Thu 00:00
  });
});

describe('localDayStart and nextLocalDayStart', () => {
  it('give local midnights as UTC instants', () => {
    const now = at('2026-11-18T02:00:00Z'); // Wed 11:00 JST
    expect(localDayStart(now, TOKYO).toISOString()).toBe('2026-11-17T15:00:00.000Z');
    expect(nextLocalDayStart(now, TOKYO).toISOString()).toBe('2026-11-18T15:00:00.000Z');
    // The same instant is still Tuesday in New York.
    expect(localDayStart(now, NEW_YORK).toISOString()).toBe('2026-11-17T05:00:00.000Z');
    expect(nextLocalDayStart(now, NEW_YORK).toISOString()).toBe('2026-11-18T05:00:00.000Z');
  });

  it('treat local midnight itself as the start of its day', () => {
    const midnight = at('2026-11-17T15:00:00Z'); // Wed 00:00 JST
    expect(localDayStart(midnight, TOKYO)).toEqual(midnight);
    expect(nextLocalDayStart(midnight, TOKYO).toISOString()).toBe('2026-11-18T15:00:00.000Z');
  });

  it('follow the 23-hour and 25-hour days of a DST change', () => {
    const springDay = at('2026-03-08T12:00:00Z'); // Sun 08:00 EDT
    expect(localDayStart(springDay, NEW_YORK).toISOString()).toBe('2026-03-08T05:00:00.000Z'); // 00:00 EST
    expect(nextLocalDayStart(springDay, NEW_YORK).toISOString()).toBe('2026-03-09T04:00:00.000Z'); // 00:00 EDT
    const fallDay = at('2026-11-01T12:00:00Z'); // Sun 07:00 EST
    expect(localDayStart(fallDay, NEW_YORK).toISOString()).toBe('2026-11-01T04:00:00.000Z'); // 00:00 EDT
    expect(nextLocalDayStart(fallDay, NEW_YORK).toISOString()).toBe('2026-11-02T05:00:00.000Z'); // 00:00 EST
  });
});

describe('validTimeZone', () => {
  it('returns a valid IANA zone name unchanged', () => {
    expect(validTimeZone(TOKYO)).toBe(TOKYO);
    expect(validTimeZone(NEW_YORK)).toBe(NEW_YORK);
    expect(validTimeZone('UTC')).toBe('UTC');
  });

  it('returns undefined for a missing or unknown zone, also when asked again (cached)', () => {
    expect(validTimeZone(undefined)).toBeUndefined();
    expect(validTimeZone(null)).toBeUndefined();
    expect(validTimeZone('')).toBeUndefined();
    expect(validTimeZone('Mars/Olympus_Mons')).toBeUndefined();
    expect(validTimeZone('Mars/Olympus_Mons')).toBeUndefined();
    expect(validTimeZone('Asia/Tokyo ')).toBeUndefined();
  });
});
