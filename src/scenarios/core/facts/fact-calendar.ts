/**
 * Calendar arithmetic for facts: calendar dates as whole days since 1970-01-01 ("epoch days"),
 * today's UTC day (rollup windows) and today in a time zone (contract facts). PURE: `now`
 * is always passed in.
 */
import { DateTime } from 'luxon';

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` -> epoch day. */
export function epochDayOf(isoDate: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  if (!match) throw new Error(`not a date: ${isoDate}`);
  const date = new Date(0);
  date.setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Math.round(date.getTime() / DAY_MS);
}

/** Epoch day -> `YYYY-MM-DD`. */
export function isoDateOf(epochDay: number): string {
  return new Date(epochDay * DAY_MS).toISOString().slice(0, 10);
}

/** The UTC calendar day of an instant, as an epoch day. */
export function utcEpochDay(now: Date): number {
  return Math.floor(now.getTime() / DAY_MS);
}

const localDays = new Map<string, number>();
const LOCAL_DAY_CACHE_SIZE = 1000;

/** The calendar day of an instant in an IANA time zone, as an epoch day. Throws for an unknown zone. */
export function localEpochDay(now: Date, zone: string): number {
  const key = `${now.getTime()}|${zone}`;
  const cached = localDays.get(key);
  if (cached !== undefined) return cached;
  const local = DateTime.fromJSDate(now, { zone });
  if (!local.isValid) throw new Error(`unknown time zone '${zone}'`);
  const day = Math.round(Date.UTC(local.year, local.month - 1, local.day) / DAY_MS);
  if (localDays.size >= LOCAL_DAY_CACHE_SIZE) localDays.clear();
  localDays.set(key, day);
  return day;
}

/**
 * The first and last day (`YYYY-MM-DD`) of a window of `days` UTC days ending with today's
 * UTC day: rollup rows with `from <= day <= to` are in it.
 */
export function windowDays(now: Date, days: number): { from: string; to: string } {
  const today = utcEpochDay(now);
  return { from: isoDateOf(today - (days - 1)), to: isoDateOf(today) };
}
