/**
 * The documented catalogue of facts scenario expressions can read: name, type, scope,
 * meaning and an example. The checker resolves names here; docs and the validator list them
 * from here. Values are computed in memory by fact-values.ts and in SQL by
 * src/metrics/fact-sql-facts.ts. PURE.
 */
import { CONTACT_ROLES, LIFECYCLE_PHASES, TIERS } from './fact-context';

export type FactScope = 'account' | 'contact';
/** `strings` is a list of strings (`contact.roles`), tested with `in`. */
export type FactType = 'number' | 'string' | 'boolean' | 'date' | 'strings';

export const ACCOUNT_FACT_KEYS = [
  'external_id',
  'name',
  'plan',
  'arr',
  'currency',
  'status',
  'locale',
  'time_zone',
  'has_owner',
  'tags',
  'contract_start',
  'renewal_date',
  'tier',
  'lifecycle',
  'days_since_start',
  'days_to_renewal',
  'logins_7d',
  'logins_14d',
  'logins_30d',
  'active_users_7d',
  'active_users_30d',
  'contacts',
  'open_handoffs',
  'last_active_on',
  'days_since_last_activity',
  'opens_30d',
  'clicks_30d',
] as const;
export type AccountFactKey = (typeof ACCOUNT_FACT_KEYS)[number];

export const CONTACT_FACT_KEYS = [
  'external_id',
  'name',
  'roles',
  'tags',
  'locale',
  'time_zone',
  'status',
  'logins_7d',
  'logins_14d',
  'logins_30d',
  'last_active_on',
  'days_since_last_activity',
  'opens_30d',
  'clicks_30d',
] as const;
export type ContactFactKey = (typeof CONTACT_FACT_KEYS)[number];

interface FactInfo {
  type: FactType;
  /** Whether the value can be null (then `== null` is meaningful). */
  nullable: boolean;
  /** The only values a string fact (or the items of a strings fact) can take. */
  values?: readonly string[];
  /** Facts over rollups: the window they read, in UTC days. */
  windowDays?: number;
  description: string;
  example: string;
}

export type FactDefinition = FactInfo &
  (
    | { scope: 'account'; key: AccountFactKey; name: `account.${AccountFactKey}` }
    | {
        scope: 'contact';
        key: ContactFactKey;
        name: `contact.${ContactFactKey}`;
      }
  );

const LOCALES = ['ja', 'en'] as const;

const ACCOUNT_FACT_INFO: Record<AccountFactKey, FactInfo> = {
  external_id: {
    type: 'string',
    nullable: false,
    description: "The account's id in your systems.",
    example: "account.external_id == 'acme'",
  },
  name: { type: 'string', nullable: false, description: 'The account name.', example: "account.name != 'Test'" },
  plan: {
    type: 'string',
    nullable: true,
    description: 'The plan name, as given on the account.',
    example: "account.plan in ['pro', 'enterprise']",
  },
  arr: {
    type: 'number',
    nullable: true,
    description: 'Annual recurring revenue, in `account.currency`.',
    example: 'account.arr >= 1_000_000',
  },
  currency: {
    type: 'string',
    nullable: true,
    description: 'ISO currency of the ARR (`JPY`, `USD`).',
    example: "account.currency == 'JPY'",
  },
  status: {
    type: 'string',
    nullable: false,
    values: ['active', 'churned'],
    description: '`active` or `churned`.',
    example: "account.status == 'active'",
  },
  locale: {
    type: 'string',
    nullable: true,
    values: LOCALES,
    description: "The account's language (`ja`, `en`), null when unset.",
    example: "account.locale == 'en'",
  },
  time_zone: {
    type: 'string',
    nullable: true,
    description: 'The IANA time zone set on the account, null when unset (DEFAULT_TIMEZONE then applies).',
    example: "account.time_zone == 'Asia/Tokyo'",
  },
  has_owner: {
    type: 'boolean',
    nullable: false,
    description: 'A CSM owns the account.',
    example: 'not account.has_owner',
  },
  tags: {
    type: 'strings',
    nullable: false,
    description:
      'Tags set by scenarios (`set: { on: account, tag: ... }`), kept in attributes.tags (a list: test with `in`).',
    example: "'expansion_candidate' not in account.tags",
  },
  contract_start: {
    type: 'date',
    nullable: true,
    description: 'The contract start date.',
    example: 'days_since(account.contract_start) >= 7',
  },
  renewal_date: {
    type: 'date',
    nullable: true,
    description: 'The next renewal date.',
    example: 'days_until(account.renewal_date) <= 60',
  },
  tier: {
    type: 'string',
    nullable: false,
    values: TIERS,
    description:
      'Coverage tier from the ARR and TIER_THRESHOLDS of its currency; tech-touch without ARR or thresholds.',
    example: "account.tier == 'tech-touch'",
  },
  lifecycle: {
    type: 'string',
    nullable: false,
    values: LIFECYCLE_PHASES,
    description:
      'renewal when days_to_renewal <= RENEWAL_WINDOW_DAYS (overdue too); else onboarding when days_since_start < ONBOARDING_DAYS (also before the start); else adoption.',
    example: "account.lifecycle == 'onboarding'",
  },
  days_since_start: {
    type: 'number',
    nullable: true,
    description:
      "Days from the contract start to today in the account's time zone (0 on the start day, negative before it).",
    example: 'account.days_since_start >= 7',
  },
  days_to_renewal: {
    type: 'number',
    nullable: true,
    description:
      "Days from today in the account's time zone to the renewal date (0 on the day, negative when overdue).",
    example: 'account.days_to_renewal <= 30',
  },
  logins_7d: {
    type: 'number',
    nullable: false,
    windowDays: 7,
    description: "`login` events of the account in the last 7 days: count('login', 7d).",
    example: 'account.logins_7d >= 5',
  },
  logins_14d: {
    type: 'number',
    nullable: false,
    windowDays: 14,
    description: "`login` events of the account in the last 14 days: count('login', 14d).",
    example: 'account.logins_14d < 3',
  },
  logins_30d: {
    type: 'number',
    nullable: false,
    windowDays: 30,
    description: "`login` events of the account in the last 30 days: count('login', 30d).",
    example: 'account.logins_30d == 0',
  },
  active_users_7d: {
    type: 'number',
    nullable: false,
    windowDays: 7,
    description:
      'Contacts with a product-usage event (any type not starting with email., site., handoff., tend.) in the last 7 days.',
    example: 'account.active_users_7d >= 3',
  },
  active_users_30d: {
    type: 'number',
    nullable: false,
    windowDays: 30,
    description: 'Contacts with a product-usage event in the last 30 days.',
    example: 'account.active_users_30d >= 5',
  },
  contacts: {
    type: 'number',
    nullable: false,
    description: 'Active contacts of the account.',
    example: 'account.contacts > 1',
  },
  open_handoffs: {
    type: 'number',
    nullable: false,
    description: 'Handoffs of the account a person is on (open or acknowledged).',
    example: 'account.open_handoffs == 0',
  },
  last_active_on: {
    type: 'date',
    nullable: true,
    description: 'The latest UTC day with a product-usage event of the account (today at most), null when none.',
    example: 'account.last_active_on != null',
  },
  days_since_last_activity: {
    type: 'number',
    nullable: true,
    description: 'UTC days since last_active_on (0 when active today), null when never active.',
    example: 'account.days_since_last_activity >= 14',
  },
  opens_30d: {
    type: 'number',
    nullable: false,
    windowDays: 30,
    description: "Human opens of the account's mail in the last 30 days (machine opens are not counted).",
    example: 'account.opens_30d == 0',
  },
  clicks_30d: {
    type: 'number',
    nullable: false,
    windowDays: 30,
    description: "Human clicks in the account's mail in the last 30 days.",
    example: 'account.clicks_30d >= 1',
  },
};

const CONTACT_FACT_INFO: Record<ContactFactKey, FactInfo> = {
  external_id: {
    type: 'string',
    nullable: false,
    description: "The contact's id in your systems.",
    example: "contact.external_id == 'c-1'",
  },
  name: {
    type: 'string',
    nullable: true,
    description: "The contact's name, null when unknown.",
    example: 'contact.name != null',
  },
  roles: {
    type: 'strings',
    nullable: false,
    values: CONTACT_ROLES,
    description: 'Roles: admin, operator, decision_maker, champion (a list: test with `in`).',
    example: "'champion' in contact.roles",
  },
  tags: {
    type: 'strings',
    nullable: false,
    description:
      'Tags set by scenarios (`set: { on: contact, tag: ... }`), kept in attributes.tags (a list: test with `in`).',
    example: "'onboarded' in contact.tags",
  },
  locale: {
    type: 'string',
    nullable: true,
    values: LOCALES,
    description: "The contact's language (`ja`, `en`), null when unset.",
    example: "contact.locale == 'ja'",
  },
  time_zone: {
    type: 'string',
    nullable: true,
    description: 'The IANA time zone set on the contact, null when unset.',
    example: "contact.time_zone == 'America/Los_Angeles'",
  },
  status: {
    type: 'string',
    nullable: false,
    values: ['active', 'left', 'bounced'],
    description: '`active`, `left` (left the company) or `bounced`.',
    example: "contact.status == 'active'",
  },
  logins_7d: {
    type: 'number',
    nullable: false,
    windowDays: 7,
    description: "The contact's `login` events in the last 7 days: contact.count('login', 7d).",
    example: 'contact.logins_7d == 0',
  },
  logins_14d: {
    type: 'number',
    nullable: false,
    windowDays: 14,
    description: "The contact's `login` events in the last 14 days.",
    example: 'contact.logins_14d < 2',
  },
  logins_30d: {
    type: 'number',
    nullable: false,
    windowDays: 30,
    description: "The contact's `login` events in the last 30 days.",
    example: 'contact.logins_30d >= 1',
  },
  last_active_on: {
    type: 'date',
    nullable: true,
    description: 'The latest UTC day with a product-usage event of the contact (today at most), null when none.',
    example: 'contact.last_active_on == null',
  },
  days_since_last_activity: {
    type: 'number',
    nullable: true,
    description: 'UTC days since the contact was last active (0 when active today), null when never.',
    example: 'contact.days_since_last_activity > 30',
  },
  opens_30d: {
    type: 'number',
    nullable: false,
    windowDays: 30,
    description: 'Human opens of mail to the contact in the last 30 days.',
    example: 'contact.opens_30d >= 1',
  },
  clicks_30d: {
    type: 'number',
    nullable: false,
    windowDays: 30,
    description: 'Human clicks in mail to the contact in the last 30 days.',
    example: 'contact.clicks_30d >= 1',
  },
};

/** Every fact, account facts first, in documentation order. */
export const FACT_CATALOGUE: readonly FactDefinition[] = [
  ...ACCOUNT_FACT_KEYS.map((key): FactDefinition => ({
    scope: 'account',
    key,
    name: `account.${key}`,
    ...ACCOUNT_FACT_INFO[key],
  })),
  ...CONTACT_FACT_KEYS.map((key): FactDefinition => ({
    scope: 'contact',
    key,
    name: `contact.${key}`,
    ...CONTACT_FACT_INFO[key],
  })),
];

const BY_NAME: ReadonlyMap<string, FactDefinition> = new Map(FACT_CATALOGUE.map((fact) => [fact.name, fact]));

/** The fact of a full name (`account.logins_14d`), or undefined. Own entries only. */
export function findFact(name: string): FactDefinition | undefined {
  return BY_NAME.get(name);
}

/** Custom attributes: `account.attributes.<key>`, `contact.attributes.<key>`. */
export const ATTRIBUTE_KEY_PATTERN = /^[A-Za-z0-9_]+$/;
