/**
 * Catalogue facts and rollup functions as SQL over the population, the twins of
 * src/scenarios/core/facts/fact-values.ts. `a` is the account row, `c` the contact row.
 * Rollup facts are correlated subqueries on the rollup tables' keys: one index range per
 * subject (account_daily_usage (account_id, type, day), contact_daily_usage (contact_id,
 * type, day) and (account_id, day), visitors (contact_id), visitor_daily_site (visitor_id,
 * type, section, day)), evaluated only for rows the cheaper conditions let through.
 */
import { windowDays } from '../scenarios/core/facts/fact-calendar';
import { ACTIVE_HANDOFF_STATUSES_SQL } from '../handoffs/handoff.types';
import type { AccountFactKey, ContactFactKey, FactScope } from '../scenarios/core/facts/catalogue';
import {
  type FactSettings,
  type LifecyclePhase,
  type TierName,
  USAGE_EXCLUDED_TYPE_PATTERN,
} from '../scenarios/core/facts/fact-context';
import { HUMAN_CLICK_TYPE, HUMAN_OPEN_TYPE, LOGIN_TYPE, PAGE_VIEW_TYPE } from '../scenarios/core/facts/fact-values';
import type { SqlParameters } from './fact-sql-parameters';

/** A compiled value: its SQL and whether it can be NULL. */
export interface SqlFragment {
  sql: string;
  nullable: boolean;
}

/** What fact SQL is built with. */
export interface FactSqlContext {
  params: SqlParameters;
  now: Date;
  settings: FactSettings;
}

const value = (sql: string, nullable: boolean): SqlFragment => ({ sql, nullable });

/** Today's UTC day: the last day of every rollup window. */
function utcToday(q: FactSqlContext): string {
  return q.params.add(windowDays(q.now, 1).to, 'date');
}

function windowStart(q: FactSqlContext, days: number): string {
  return q.params.add(windowDays(q.now, days).from, 'date');
}

/** Today in the account's time zone (DEFAULT_TIMEZONE when it has none). */
export function accountTodaySql(q: FactSqlContext): string {
  const now = q.params.add(q.now.toISOString(), 'timestamptz');
  const zone = q.params.add(q.settings.defaultTimeZone, 'text');
  return `(${now} AT TIME ZONE COALESCE(a.time_zone, ${zone}))::date`;
}

/** Events of a type in the window, of the account (`a`) or the contact (`c`). */
export function countSql(q: FactSqlContext, scope: FactScope, type: string, days: number): SqlFragment {
  const subject =
    scope === 'account'
      ? 'FROM account_daily_usage u WHERE u.account_id = a.id'
      : 'FROM contact_daily_usage u WHERE u.contact_id = c.id';
  return value(
    `(SELECT COALESCE(sum(u.events), 0) ${subject} AND u.type = ${q.params.add(type, 'text')} AND u.day BETWEEN ${windowStart(q, days)} AND ${utcToday(q)})::float8`,
    false,
  );
}

/** Page views on the sections of a page group, through the visitors linked to the subject's contacts. */
export function visitsSql(q: FactSqlContext, scope: FactScope, group: string, days: number): SqlFragment {
  const sections = Object.hasOwn(q.settings.pageGroups, group) ? q.settings.pageGroups[group] : undefined;
  if (!sections) throw new Error(`page group '${group}' is not in the settings`);
  const visitors =
    scope === 'account'
      ? 'FROM contacts vc JOIN visitors v ON v.contact_id = vc.id JOIN visitor_daily_site s ON s.visitor_id = v.id WHERE vc.account_id = a.id'
      : 'FROM visitors v JOIN visitor_daily_site s ON s.visitor_id = v.id WHERE v.contact_id = c.id';
  return value(
    `(SELECT COALESCE(sum(s.events), 0) ${visitors} AND s.type = ${q.params.add(PAGE_VIEW_TYPE, 'text')} AND s.section = ANY(${q.params.add([...sections], 'text[]')}) AND s.day BETWEEN ${windowStart(q, days)} AND ${utcToday(q)})::float8`,
    false,
  );
}

function isUsageSql(q: FactSqlContext): string {
  return `u.events > 0 AND u.type !~ ${q.params.add(USAGE_EXCLUDED_TYPE_PATTERN, 'text')}`;
}

function lastActiveSql(q: FactSqlContext, scope: FactScope): string {
  const subject =
    scope === 'account'
      ? 'FROM account_daily_usage u WHERE u.account_id = a.id'
      : 'FROM contact_daily_usage u WHERE u.contact_id = c.id';
  return `(SELECT max(u.day) ${subject} AND u.day <= ${utcToday(q)} AND ${isUsageSql(q)})`;
}

function activeUsersSql(q: FactSqlContext, days: number): SqlFragment {
  return value(
    `(SELECT count(DISTINCT u.contact_id) FROM contact_daily_usage u WHERE u.account_id = a.id AND u.day BETWEEN ${windowStart(q, days)} AND ${utcToday(q)} AND ${isUsageSql(q)})::float8`,
    false,
  );
}

/** The string items of attributes.tags as text[] (other JSON items are ignored, as in memory). */
function tagsSql(alias: 'a' | 'c'): string {
  const tags = `${alias}.attributes -> 'tags'`;
  return `ARRAY(SELECT t #>> '{}' FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${tags}) = 'array' THEN ${tags} ELSE '[]'::jsonb END) t WHERE jsonb_typeof(t) = 'string')`;
}

function tierSql(q: FactSqlContext): SqlFragment {
  const text = (s: string) => q.params.add(s, 'text');
  const tier = (t: TierName) => q.params.add(t, 'text');
  const arr = 'a.arr_amount::float8';
  const branches = Object.entries(q.settings.tierThresholds)
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(
      ([currency, t]) =>
        `WHEN a.arr_currency::text = ${text(currency)} THEN CASE WHEN ${arr} >= ${q.params.add(t.highTouch, 'float8')} THEN ${tier('high-touch')} WHEN ${arr} >= ${q.params.add(t.midTouch, 'float8')} THEN ${tier('mid-touch')} ELSE ${tier('tech-touch')} END`,
    );
  if (branches.length === 0) return value(tier('tech-touch'), false);
  return value(
    `(CASE WHEN a.arr_amount IS NULL OR a.arr_currency IS NULL THEN ${tier('tech-touch')} ${branches.join(' ')} ELSE ${tier('tech-touch')} END)`,
    false,
  );
}

const daysSinceStart = (q: FactSqlContext) => `(${accountTodaySql(q)} - a.contract_start_date)`;
const daysToRenewal = (q: FactSqlContext) => `(a.renewal_date - ${accountTodaySql(q)})`;

function lifecycleSql(q: FactSqlContext): SqlFragment {
  const phase = (p: LifecyclePhase) => q.params.add(p, 'text');
  const renewalWindow = q.params.add(q.settings.renewalWindowDays, 'int');
  const onboardingDays = q.params.add(q.settings.onboardingDays, 'int');
  return value(
    `(CASE WHEN ${daysToRenewal(q)} <= ${renewalWindow} THEN ${phase('renewal')} WHEN ${daysSinceStart(q)} < ${onboardingDays} THEN ${phase('onboarding')} ELSE ${phase('adoption')} END)`,
    false,
  );
}

export function accountFactSql(key: AccountFactKey, q: FactSqlContext): SqlFragment {
  switch (key) {
    case 'external_id':
      return value('a.external_id', false);
    case 'name':
      return value('a.name', false);
    case 'plan':
      return value('a.plan', true);
    case 'arr':
      return value('a.arr_amount::float8', true);
    case 'currency':
      return value('a.arr_currency::text', true);
    case 'status':
      return value('a.status', false);
    case 'locale':
      return value('a.locale', true);
    case 'time_zone':
      return value('a.time_zone', true);
    case 'has_owner':
      return value('(a.owner_csm_id IS NOT NULL)', false);
    case 'tags':
      return value(tagsSql('a'), false);
    case 'contract_start':
      return value('a.contract_start_date', true);
    case 'renewal_date':
      return value('a.renewal_date', true);
    case 'tier':
      return tierSql(q);
    case 'lifecycle':
      return lifecycleSql(q);
    case 'days_since_start':
      return value(`${daysSinceStart(q)}::float8`, true);
    case 'days_to_renewal':
      return value(`${daysToRenewal(q)}::float8`, true);
    case 'logins_7d':
      return countSql(q, 'account', LOGIN_TYPE, 7);
    case 'logins_14d':
      return countSql(q, 'account', LOGIN_TYPE, 14);
    case 'logins_30d':
      return countSql(q, 'account', LOGIN_TYPE, 30);
    case 'active_users_7d':
      return activeUsersSql(q, 7);
    case 'active_users_30d':
      return activeUsersSql(q, 30);
    case 'open_handoffs':
      return value(
        `(SELECT count(*) FROM handoffs ah WHERE ah.account_id = a.id AND ah.status IN (${ACTIVE_HANDOFF_STATUSES_SQL}))::float8`,
        false,
      );
    case 'contacts':
      return value(
        `(SELECT count(*) FROM contacts ac WHERE ac.account_id = a.id AND ac.status = ${q.params.add('active', 'text')})::float8`,
        false,
      );
    case 'last_active_on':
      return value(lastActiveSql(q, 'account'), true);
    case 'days_since_last_activity':
      return value(`(${utcToday(q)} - ${lastActiveSql(q, 'account')})::float8`, true);
    case 'opens_30d':
      return countSql(q, 'account', HUMAN_OPEN_TYPE, 30);
    case 'clicks_30d':
      return countSql(q, 'account', HUMAN_CLICK_TYPE, 30);
  }
}

export function contactFactSql(key: ContactFactKey, q: FactSqlContext): SqlFragment {
  switch (key) {
    case 'external_id':
      return value('c.external_id', false);
    case 'name':
      return value('c.name', true);
    case 'roles':
      return value('c.roles', false);
    case 'tags':
      return value(tagsSql('c'), false);
    case 'locale':
      return value('c.locale', true);
    case 'time_zone':
      return value('c.time_zone', true);
    case 'status':
      return value('c.status', false);
    case 'logins_7d':
      return countSql(q, 'contact', LOGIN_TYPE, 7);
    case 'logins_14d':
      return countSql(q, 'contact', LOGIN_TYPE, 14);
    case 'logins_30d':
      return countSql(q, 'contact', LOGIN_TYPE, 30);
    case 'last_active_on':
      return value(lastActiveSql(q, 'contact'), true);
    case 'days_since_last_activity':
      return value(`(${utcToday(q)} - ${lastActiveSql(q, 'contact')})::float8`, true);
    case 'opens_30d':
      return countSql(q, 'contact', HUMAN_OPEN_TYPE, 30);
    case 'clicks_30d':
      return countSql(q, 'contact', HUMAN_CLICK_TYPE, 30);
  }
}
