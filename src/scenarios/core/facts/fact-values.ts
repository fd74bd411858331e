/**
 * Facts computed in memory from one subject's snapshot (fact-context.ts). The SQL side
 * (src/metrics/fact-sql-facts.ts) computes the same facts over the whole population; the
 * agreement test (test/expression-agreement.e2e-spec.ts) holds them to the same answers.
 * Dates are epoch days here (fact-calendar.ts). PURE.
 */
import type { JsonObject, JsonValue } from '../../../common/json';
import type { AccountFactKey, ContactFactKey } from './catalogue';
import { epochDayOf, localEpochDay, utcEpochDay, windowDays } from './fact-calendar';
import {
  type AccountSnapshot,
  type DailyCount,
  type DailySiteCount,
  type FactContext,
  type FactSettings,
  isUsageType,
  type LifecyclePhase,
  type TierName,
} from './fact-context';

/** A fact's value: dates as epoch days, `strings` as arrays. */
export type FactValue = number | string | boolean | null | readonly string[];

/** The rollup type of human email opens and clicks (machine ones roll up as `<type>.machine`). */
export const HUMAN_OPEN_TYPE = 'email.opened';
export const HUMAN_CLICK_TYPE = 'email.clicked';
export const PAGE_VIEW_TYPE = 'site.page_viewed';
export const LOGIN_TYPE = 'login';

/** Today (an epoch day) in the account's time zone, or DEFAULT_TIMEZONE. */
export function accountToday(ctx: FactContext): number {
  return localEpochDay(ctx.now, ctx.account.timeZone ?? ctx.settings.defaultTimeZone);
}

/** Events of `type` in the window of `days` UTC days ending today. */
export function countEvents(daily: readonly DailyCount[], type: string, days: number, now: Date): number {
  const { from, to } = windowDays(now, days);
  let total = 0;
  for (const row of daily) if (row.type === type && row.day >= from && row.day <= to) total += row.count;
  return total;
}

/** Page views on `sections` in the window of `days` UTC days ending today. */
export function countVisits(
  site: readonly DailySiteCount[],
  sections: readonly string[],
  days: number,
  now: Date,
): number {
  const { from, to } = windowDays(now, days);
  let total = 0;
  for (const row of site) {
    if (row.type === PAGE_VIEW_TYPE && row.day >= from && row.day <= to && sections.includes(row.section)) {
      total += row.count;
    }
  }
  return total;
}

/** The latest UTC day (epoch day) up to today with a product-usage event, or null. */
export function lastActiveDay(daily: readonly DailyCount[], now: Date): number | null {
  const { to } = windowDays(now, 1);
  let latest: string | null = null;
  for (const row of daily) {
    if (row.count > 0 && isUsageType(row.type) && row.day <= to && (latest === null || row.day > latest))
      latest = row.day;
  }
  return latest === null ? null : epochDayOf(latest);
}

function daysSinceLastActivity(daily: readonly DailyCount[], now: Date): number | null {
  const last = lastActiveDay(daily, now);
  return last === null ? null : utcEpochDay(now) - last;
}

export function tierOf(account: Pick<AccountSnapshot, 'arr' | 'currency'>, settings: FactSettings): TierName {
  if (account.arr === null || account.currency === null) return 'tech-touch';
  const thresholds = Object.hasOwn(settings.tierThresholds, account.currency)
    ? settings.tierThresholds[account.currency]
    : undefined;
  if (!thresholds) return 'tech-touch';
  if (account.arr >= thresholds.highTouch) return 'high-touch';
  if (account.arr >= thresholds.midTouch) return 'mid-touch';
  return 'tech-touch';
}

export function daysSinceStart(ctx: FactContext): number | null {
  const start = ctx.account.contractStart;
  return start === null ? null : accountToday(ctx) - epochDayOf(start);
}

export function daysToRenewal(ctx: FactContext): number | null {
  const renewal = ctx.account.renewalDate;
  return renewal === null ? null : epochDayOf(renewal) - accountToday(ctx);
}

/** renewal > onboarding > adoption (see FactSettings). */
export function lifecycleOf(ctx: FactContext): LifecyclePhase {
  const toRenewal = daysToRenewal(ctx);
  if (toRenewal !== null && toRenewal <= ctx.settings.renewalWindowDays) return 'renewal';
  const sinceStart = daysSinceStart(ctx);
  if (sinceStart !== null && sinceStart < ctx.settings.onboardingDays) return 'onboarding';
  return 'adoption';
}

/** Distinct contacts with a product-usage event in the window. */
function activeUsers(account: AccountSnapshot, days: number, now: Date): number {
  const { from, to } = windowDays(now, days);
  const contacts = new Set<string>();
  for (const row of account.activeContactDays) if (row.day >= from && row.day <= to) contacts.add(row.contactId);
  return contacts.size;
}

export function accountFact(key: AccountFactKey, ctx: FactContext): FactValue {
  const a = ctx.account;
  switch (key) {
    case 'external_id':
      return a.externalId;
    case 'name':
      return a.name;
    case 'plan':
      return a.plan;
    case 'arr':
      return a.arr;
    case 'currency':
      return a.currency;
    case 'status':
      return a.status;
    case 'locale':
      return a.locale;
    case 'time_zone':
      return a.timeZone;
    case 'has_owner':
      return a.ownerCsmId !== null;
    case 'tags':
      return tagsOf(a.attributes);
    case 'contract_start':
      return a.contractStart === null ? null : epochDayOf(a.contractStart);
    case 'renewal_date':
      return a.renewalDate === null ? null : epochDayOf(a.renewalDate);
    case 'tier':
      return tierOf(a, ctx.settings);
    case 'lifecycle':
      return lifecycleOf(ctx);
    case 'days_since_start':
      return daysSinceStart(ctx);
    case 'days_to_renewal':
      return daysToRenewal(ctx);
    case 'logins_7d':
      return countEvents(a.daily, LOGIN_TYPE, 7, ctx.now);
    case 'logins_14d':
      return countEvents(a.daily, LOGIN_TYPE, 14, ctx.now);
    case 'logins_30d':
      return countEvents(a.daily, LOGIN_TYPE, 30, ctx.now);
    case 'active_users_7d':
      return activeUsers(a, 7, ctx.now);
    case 'active_users_30d':
      return activeUsers(a, 30, ctx.now);
    case 'contacts':
      return a.activeContacts;
    case 'open_handoffs':
      return a.openHandoffs;
    case 'last_active_on':
      return lastActiveDay(a.daily, ctx.now);
    case 'days_since_last_activity':
      return daysSinceLastActivity(a.daily, ctx.now);
    case 'opens_30d':
      return countEvents(a.daily, HUMAN_OPEN_TYPE, 30, ctx.now);
    case 'clicks_30d':
      return countEvents(a.daily, HUMAN_CLICK_TYPE, 30, ctx.now);
  }
}

export function contactFact(key: ContactFactKey, ctx: FactContext): FactValue {
  const c = ctx.contact;
  if (!c) throw new Error(`contact.${key} read without a contact (an account subject)`);
  switch (key) {
    case 'external_id':
      return c.externalId;
    case 'name':
      return c.name;
    case 'roles':
      return c.roles;
    case 'tags':
      return tagsOf(c.attributes);
    case 'locale':
      return c.locale;
    case 'time_zone':
      return c.timeZone;
    case 'status':
      return c.status;
    case 'logins_7d':
      return countEvents(c.daily, LOGIN_TYPE, 7, ctx.now);
    case 'logins_14d':
      return countEvents(c.daily, LOGIN_TYPE, 14, ctx.now);
    case 'logins_30d':
      return countEvents(c.daily, LOGIN_TYPE, 30, ctx.now);
    case 'last_active_on':
      return lastActiveDay(c.daily, ctx.now);
    case 'days_since_last_activity':
      return daysSinceLastActivity(c.daily, ctx.now);
    case 'opens_30d':
      return countEvents(c.daily, HUMAN_OPEN_TYPE, 30, ctx.now);
    case 'clicks_30d':
      return countEvents(c.daily, HUMAN_CLICK_TYPE, 30, ctx.now);
  }
}

/** A custom attribute's raw JSON value; undefined when absent. Own keys only. */
/** The string items of attributes.tags (anything else there is ignored, as in SQL). */
export function tagsOf(attributes: JsonObject): string[] {
  const tags = Object.hasOwn(attributes, 'tags') ? attributes.tags : undefined;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

export function attributeValue(attributes: JsonObject, key: string): JsonValue | undefined {
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) return undefined;
  return Object.hasOwn(attributes, key) ? attributes[key] : undefined;
}
