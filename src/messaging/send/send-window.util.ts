import { DateTime } from 'luxon';

export interface SendWindowRules {
  /** Local `HH:MM` times: no mail from `start` until `end` (may wrap midnight, e.g. 20:00-09:00). */
  quietHours: { start: string; end: string };
  /** Luxon weekday numbers (1 = Monday) on which mail may go. */
  businessDays: number[];
}

const DAY_MINUTES = 24 * 60;

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** Allowed [from, to) minute ranges of a business day: the complement of the quiet window. */
function allowedRanges(rules: SendWindowRules): [number, number][] {
  const start = toMinutes(rules.quietHours.start);
  const end = toMinutes(rules.quietHours.end);
  if (start === end) return [[0, DAY_MINUTES]];
  if (start > end) return [[end, start]]; // quiet wraps midnight: 20:00-09:00 -> allowed 09:00-20:00
  return [
    [0, start],
    [end, DAY_MINUTES],
  ].filter(([a, b]) => a! < b!) as [number, number][];
}

/**
 * The first instant at or after `now` when mail may reach a recipient in `timeZone`:
 * `now` itself when inside the allowed window of a business day, else the start of the
 * next allowed window (evaluated in local time, so DST shifts are respected).
 */
export function nextAllowedSendTime(now: Date, timeZone: string, rules: SendWindowRules): Date {
  const local = DateTime.fromJSDate(now, { zone: timeZone });
  const ranges = allowedRanges(rules);
  if (rules.businessDays.length === 0) throw new Error('No business days configured');
  for (let d = 0; d <= 8; d += 1) {
    const day = local.startOf('day').plus({ days: d });
    if (!rules.businessDays.includes(day.weekday)) continue;
    for (const [from, to] of ranges) {
      const opens = day.set({ hour: Math.floor(from / 60), minute: from % 60 });
      const closes =
        to >= DAY_MINUTES ? day.plus({ days: 1 }) : day.set({ hour: Math.floor(to / 60), minute: to % 60 });
      const candidate = opens < local ? local : opens;
      if (candidate < closes) return candidate.toJSDate();
    }
  }
  throw new Error('No allowed send time within 8 days');
}

/** Start of the recipient's next local day (account daily caps reset then). */
export function nextLocalDayStart(now: Date, timeZone: string): Date {
  return DateTime.fromJSDate(now, { zone: timeZone }).startOf('day').plus({ days: 1 }).toJSDate();
}

/** Start of the recipient's current local day. */
export function localDayStart(now: Date, timeZone: string): Date {
  return DateTime.fromJSDate(now, { zone: timeZone }).startOf('day').toJSDate();
}

/** Zone names already checked (a check costs a DateTime construction; the send path asks per message). */
const zoneValidity = new Map<string, boolean>();

/** A usable IANA zone name, or undefined. */
export function validTimeZone(zone: string | null | undefined): string | undefined {
  if (!zone) return undefined;
  let valid = zoneValidity.get(zone);
  if (valid === undefined) {
    valid = DateTime.now().setZone(zone).isValid;
    if (zoneValidity.size < 10_000) zoneValidity.set(zone, valid);
  }
  return valid ? zone : undefined;
}
