/**
 * What the scenario core knows about one subject, and the settings facts are computed
 * with. PURE: plain data, no NestJS, TypeORM or filesystem. The same facts are also
 * computed by SQL over the whole population (src/metrics/fact-sql.ts); both must agree.
 *
 * Days: usage rollups are kept per UTC calendar day (`YYYY-MM-DD`). A window of `Nd`
 * covers the N UTC days ending with the UTC day of `now` (today included).
 * Calendar facts about the contract (days since start, days to renewal, lifecycle phase)
 * use "today" in the account's time zone (`account.timeZone ?? settings.defaultTimeZone`).
 */
import type { JsonObject } from '../../../common/json';

export type TierName = 'high-touch' | 'mid-touch' | 'tech-touch';
export type LifecyclePhase = 'onboarding' | 'adoption' | 'renewal';

export const TIERS: readonly TierName[] = ['high-touch', 'mid-touch', 'tech-touch'];
export const LIFECYCLE_PHASES: readonly LifecyclePhase[] = ['onboarding', 'adoption', 'renewal'];
export const CONTACT_ROLES = ['admin', 'operator', 'decision_maker', 'champion'] as const;

/** Configuration facts are computed with (from AppConfig; defaults documented in .env.example). */
export interface FactSettings {
  /**
   * ARR thresholds per ISO currency: ARR >= highTouch -> high-touch, >= midTouch -> mid-touch,
   * else tech-touch. An account with no ARR, or a currency with no thresholds, is tech-touch.
   */
  tierThresholds: Readonly<Record<string, { highTouch: number; midTouch: number }>>;
  /** Onboarding: the first N days after contract start (day 0 .. N-1; also before the start). */
  onboardingDays: number;
  /** Renewal: days to renewal <= M (an overdue renewal date counts as renewal too). */
  renewalWindowDays: number;
  /** IANA zone for accounts without one. */
  defaultTimeZone: string;
  /**
   * Page groups for `visits('<group>', window)`: group name -> site sections, a section
   * being the first path segment of a page URL, lowercased (`/Pricing/plans` -> `pricing`,
   * `/` -> ``). Declared in scenarios/_catalog.yaml.
   */
  pageGroups: Readonly<Record<string, readonly string[]>>;
}

/** One rollup row: events of `type` on one UTC day. */
export interface DailyCount {
  day: string;
  type: string;
  count: number;
}

/** Page views and other site events (visitor-level rollup) attributed to the subject through linked visitors. */
export interface DailySiteCount {
  day: string;
  /** `site.page_viewed`, or a custom `site.<name>` event from `tend.track`. */
  type: string;
  /** First path segment of the page, lowercased ('' for the root); '' for non-page events. */
  section: string;
  count: number;
}

export interface AccountSnapshot {
  id: string;
  externalId: string;
  name: string;
  plan: string | null;
  arr: number | null;
  currency: string | null;
  ownerCsmId: string | null;
  /** `YYYY-MM-DD` */
  contractStart: string | null;
  /** `YYYY-MM-DD` */
  renewalDate: string | null;
  timeZone: string | null;
  locale: 'ja' | 'en' | null;
  status: 'active' | 'churned';
  attributes: JsonObject;
  /** Number of contacts of the account with status active. */
  activeContacts: number;
  /** Handoffs of the account that are open or acknowledged. */
  openHandoffs: number;
  /** The account's rollup rows (every type) for the days the evaluation needs. */
  daily: DailyCount[];
  /** (contact, day) pairs with at least one product-usage event: for `active_users_Nd`. */
  activeContactDays: { contactId: string; day: string }[];
  /** Site rollup rows of visitors linked to any contact of the account. */
  site: DailySiteCount[];
}

export interface ContactSnapshot {
  id: string;
  externalId: string;
  accountId: string;
  name: string | null;
  roles: string[];
  locale: 'ja' | 'en' | null;
  timeZone: string | null;
  status: 'active' | 'left' | 'bounced';
  attributes: JsonObject;
  daily: DailyCount[];
  site: DailySiteCount[];
}

/** What `opened(step)` / `clicked(step)` read: the enrollment's own messages (human activity only). */
export interface EnrollmentActivity {
  opened(stepId: string): boolean;
  clicked(stepId: string): boolean;
}

/** Everything an in-memory evaluation reads. `contact` is set for contact subjects. */
export interface FactContext {
  now: Date;
  settings: FactSettings;
  account: AccountSnapshot;
  contact: ContactSnapshot | undefined;
  /** Only inside a journey (step conditions); absent for audience and trigger checks. */
  enrollment: EnrollmentActivity | undefined;
}

/** The event types that are not product usage, as a regular expression (the SQL side uses the same text). */
export const USAGE_EXCLUDED_TYPE_PATTERN = '^(email|site|handoff|tend)\\.';
const USAGE_EXCLUDED_TYPE = new RegExp(USAGE_EXCLUDED_TYPE_PATTERN);

/**
 * Product usage: every event type not written by Tend itself (reserved prefixes
 * `email.`, `site.`, `handoff.`, `tend.`). `active_users_Nd` and `last_active_on` count these.
 */
export function isUsageType(type: string): boolean {
  return !USAGE_EXCLUDED_TYPE.test(type);
}
