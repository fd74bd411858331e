import { localDayStart, nextLocalDayStart } from './send-window.util';

export interface FrequencyCaps {
  /** Advertising mail per contact in any rolling 7 days; 0 = no cap. */
  advertisingPerContact7d: number;
  /** Advertising mail per account per local day of the recipient; 0 = no cap. */
  advertisingPerAccountDay: number;
}

const WEEK_MS = 7 * 24 * 60 * 60_000;

/**
 * When the caps next allow one more advertising mail, or undefined when they allow it now.
 * `contactSends` and `accountSends` are send times, newest first. Over the contact cap the
 * mail may go once the cap-th most recent send leaves the 7-day window; over the account
 * cap, at the start of the recipient's next local day; over both, the later of the two.
 */
export function frequencyCapUntil(
  contactSends: readonly Date[],
  accountSends: readonly Date[],
  now: Date,
  timeZone: string,
  caps: FrequencyCaps,
): Date | undefined {
  let until: Date | undefined;
  const perContact = caps.advertisingPerContact7d;
  if (perContact > 0) {
    const recent = contactSends.filter((at) => at.getTime() > now.getTime() - WEEK_MS);
    const pivot = recent[perContact - 1];
    if (pivot) until = new Date(pivot.getTime() + WEEK_MS + 1000);
  }
  const perAccount = caps.advertisingPerAccountDay;
  if (perAccount > 0) {
    const dayStart = localDayStart(now, timeZone).getTime();
    if (accountSends.filter((at) => at.getTime() >= dayStart).length >= perAccount) {
      const tomorrow = nextLocalDayStart(now, timeZone);
      if (!until || tomorrow > until) until = tomorrow;
    }
  }
  return until;
}
