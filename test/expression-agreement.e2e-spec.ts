/**
 * The two engines of the expression language agree: for generated data and generated (and
 * hand-picked) expressions, the subjects the population SQL selects (src/metrics/fact-sql.ts)
 * are exactly those for which the in-memory evaluation is true, on snapshots loaded through
 * FactSnapshotRepository; numeric expressions give the same numbers subject by subject.
 * Data and expressions come from a seeded PRNG: a failure names the expression and subjects.
 */
import { DateTime } from 'luxon';
import { FactSnapshotRepository, type SubjectSnapshot } from '../src/metrics/fact-snapshot.repository';
import { buildPopulationQuery, compileValue, SqlParameters } from '../src/metrics/fact-sql';
import {
  analyzeExpression,
  type CheckedExpression,
  type CheckOptions,
  evaluate,
  type FactRequirements,
  requirementsOf,
  type SegmentDefinition,
} from '../src/scenarios/core/expression';
import type { FactContext, FactSettings } from '../src/scenarios/core/facts/fact-context';
import { mulberry32 } from './support/generate-events';
import { createTestDatabase, type TestDatabase, testEngine } from './support/test-database';

/* ------------------------------------------------------------------ PRNG */

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  subset<T>(items: readonly T[], p = 0.4): T[] {
    return items.filter(() => this.chance(p));
  }
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(this.next() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

/* ------------------------------------------------------------- settings */

const MAIN_NOW = new Date('2026-11-01T12:34:56.789Z');
/** `now` just before and after midnight in the zones of the data (and UTC, where windows turn). */
const EDGE_NOWS = [
  '2026-11-01T14:59:59.999Z', // Asia/Tokyo 23:59:59.999
  '2026-11-01T15:00:00.000Z', // Asia/Tokyo 00:00 (Nov 2)
  '2026-11-01T09:59:59.999Z', // Pacific/Kiritimati 23:59:59.999 (UTC+14)
  '2026-11-01T10:00:00.000Z', // Pacific/Kiritimati 00:00 (Nov 2)
  '2026-11-02T07:59:59.999Z', // America/Los_Angeles 23:59:59.999 (PST, the day DST ended)
  '2026-11-02T08:00:00.000Z', // America/Los_Angeles 00:00 (Nov 2)
  '2026-11-01T23:59:59.999Z', // UTC: the last instant of a rollup day
  '2026-11-02T00:00:00.000Z', // UTC: windows move by a day
].map((iso) => new Date(iso));

const ZONES = [
  null,
  'Asia/Tokyo',
  'America/Los_Angeles',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
  'Asia/Kolkata',
  'Europe/London',
  'UTC',
] as const;

const SETTINGS: FactSettings = {
  tierThresholds: {
    JPY: { highTouch: 10_000_000, midTouch: 3_000_000 },
    USD: { highTouch: 100_000, midTouch: 30_000 },
  },
  onboardingDays: 90,
  renewalWindowDays: 90,
  defaultTimeZone: 'Asia/Tokyo',
  pageGroups: { pricing: ['pricing', 'plans'], docs: ['docs', 'help'], home: [''], blog: ['blog'] },
};

const SEGMENTS: Record<string, SegmentDefinition> = {
  engaged: { scope: 'account', when: 'account.logins_30d >= 3 or account.active_users_30d >= 2' },
  'pricing-curious': { scope: 'account', when: "visits('pricing', 30d) >= 1 and segment('engaged')" },
  'active-champion': { scope: 'contact', when: "'champion' in contact.roles and contact.logins_30d >= 1" },
};

const EVENT_TYPES = [
  'login',
  'report_exported',
  'dashboard_created',
  'email.opened',
  'email.opened.machine',
  'email.clicked',
  'email.clicked.machine',
  'email.sent',
  'site.page_viewed',
  'tend.note',
] as const;
const SECTIONS = ['pricing', 'plans', 'docs', 'help', '', 'customers', 'blog'] as const;

/* ------------------------------------------------------------------ data */

interface Seeded {
  accountIds: string[];
  contactIds: string[];
}

const dayOf = (base: Date, offset: number): string =>
  new Date(base.getTime() + offset * 86_400_000).toISOString().slice(0, 10);

function localDay(now: Date, zone: string | null, offset: number): string {
  return DateTime.fromJSDate(now, { zone: zone ?? SETTINGS.defaultTimeZone })
    .plus({ days: offset })
    .toISODate()!;
}

function randomAttributes(r: Random): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  const maybe = (key: string, values: readonly unknown[]) => {
    if (r.chance(0.75)) attributes[key] = r.pick(values);
  };
  maybe('seats', [0, 1, 3, 5, 12, 2.5, -1, '5', 'many', true, null]);
  maybe('vip', [true, false, 'true', 1, null]);
  maybe('region', ['kanto', 'kansai', 'us-west', '', 'KANTO', 3, null]);
  maybe('score', [0.1, 0.2, 0.3, 0.7, 1e-7, 123.456, 99999.99, -0.5, 'high', false]);
  maybe('tier_hint', ['gold', 'silver', 7, true, null]);
  // Tags set by scenarios, and the odd values an import might leave there.
  maybe('tags', [['vip'], ['vip', 'trial'], [], ['trial', 7, null], 'vip', { vip: true }, [['vip']]]);
  return attributes;
}

async function seed(db: TestDatabase): Promise<Seeded> {
  const r = new Random(20261101);
  const q = (sql: string, params: unknown[]) => db.dataSource.query(sql, params);
  const csms = [r.uuid(), r.uuid(), r.uuid()];
  await q(
    `INSERT INTO csms (id, external_id, name, email) SELECT x.id, 'csm-' || x.n, 'CSM ' || x.n, 'csm' || x.n || '@example.jp'
       FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, n)`,
    [csms],
  );

  const accounts: Record<string, unknown>[] = [];
  const addAccount = (overrides: Record<string, unknown>) => {
    const i = accounts.length;
    const zone = r.pick(ZONES);
    const currency = r.pick(['JPY', 'USD', 'EUR', null]);
    const arr =
      currency === null
        ? null
        : r.pick([
            null,
            0,
            29_999.99,
            30_000,
            99_999.99,
            100_000,
            2_999_999,
            3_000_000,
            10_000_000,
            r.int(0, 20_000_000) + r.int(0, 99) / 100,
          ]);
    accounts.push({
      id: r.uuid(),
      external_id: `acc-${i}`,
      name: `Account ${i}`,
      plan: r.pick([null, 'starter', 'pro', 'enterprise']),
      arr_amount: arr,
      arr_currency: currency,
      owner_csm_id: r.chance(0.4) ? r.pick(csms) : null,
      contract_start_date: r.chance(0.85) ? dayOf(MAIN_NOW, r.int(-200, 30)) : null,
      renewal_date: r.chance(0.85) ? dayOf(MAIN_NOW, r.int(-30, 400)) : null,
      time_zone: zone,
      locale: r.pick([null, 'ja', 'en']),
      status: r.chance(0.85) ? 'active' : 'churned',
      attributes: randomAttributes(r),
      ...overrides,
    });
  };
  for (let i = 0; i < 200; i++) addAccount({});
  // Lifecycle boundaries: exactly N-1, N, N+1 days since the start, M-1, M, M+1, 0, -1 to renewal, in several zones.
  for (const zone of ['Asia/Tokyo', 'America/Los_Angeles', 'Pacific/Kiritimati', null] as const) {
    for (const days of [89, 90, 91, 0, -1]) {
      addAccount({ time_zone: zone, contract_start_date: localDay(MAIN_NOW, zone, -days), renewal_date: null });
    }
    for (const days of [89, 90, 91, 0, -1, 1]) {
      addAccount({
        time_zone: zone,
        renewal_date: localDay(MAIN_NOW, zone, days),
        contract_start_date: localDay(MAIN_NOW, zone, -400),
      });
    }
    addAccount({
      time_zone: zone,
      contract_start_date: localDay(MAIN_NOW, zone, -10),
      renewal_date: localDay(MAIN_NOW, zone, 30),
    });
  }
  await q(
    `INSERT INTO accounts (id, external_id, name, plan, arr_amount, arr_currency, owner_csm_id, contract_start_date,
                           renewal_date, time_zone, locale, status, attributes)
     SELECT id, external_id, name, plan, arr_amount, arr_currency, owner_csm_id, contract_start_date, renewal_date,
            time_zone, locale, status, attributes
       FROM json_to_recordset($1::json) AS x(id uuid, external_id text, name text, plan text, arr_amount numeric,
            arr_currency text, owner_csm_id uuid, contract_start_date date, renewal_date date, time_zone text,
            locale text, status text, attributes jsonb)`,
    [JSON.stringify(accounts)],
  );
  const accountIds = accounts.map((a) => a.id as string);

  const roles = ['admin', 'operator', 'decision_maker', 'champion'];
  const contacts = Array.from({ length: 600 }, (_, i) => ({
    id: r.uuid(),
    account_id: r.pick(accountIds),
    external_id: `c-${i}`,
    email: `c${i}@example.jp`,
    name: r.chance(0.8) ? `Contact ${i}` : null,
    roles: r.subset(roles, 0.35),
    locale: r.pick([null, 'ja', 'en']),
    time_zone: r.pick(ZONES),
    status: r.pick(['active', 'active', 'active', 'left', 'bounced']),
    attributes: randomAttributes(r),
  }));
  await q(
    `INSERT INTO contacts (id, account_id, external_id, email, name, roles, locale, time_zone, status, attributes)
     SELECT id, account_id, external_id, email, name, ARRAY(SELECT json_array_elements_text(roles)), locale, time_zone, status, attributes
       FROM json_to_recordset($1::json) AS x(id uuid, account_id uuid, external_id text, email text, name text,
            roles json, locale text, time_zone text, status text, attributes jsonb)`,
    [JSON.stringify(contacts)],
  );
  const contactIds = contacts.map((c) => c.id);

  // Rollup rows over the last ~60 days (a few older ones for last_active_on, a few days ahead of now).
  const dayOffset = () => (r.chance(0.05) ? r.int(-300, -61) : r.chance(0.03) ? r.int(1, 2) : r.int(-60, 0));
  const accountRows = new Map<string, [string, string, string, number]>();
  for (const id of accountIds) {
    const n = r.int(0, 30);
    for (let k = 0; k < n; k++) {
      const row: [string, string, string, number] = [
        id,
        dayOf(MAIN_NOW, dayOffset()),
        r.pick(EVENT_TYPES),
        r.int(1, 9),
      ];
      accountRows.set(`${row[0]}|${row[1]}|${row[2]}`, row);
    }
  }
  await q(
    `INSERT INTO account_daily_usage (account_id, day, type, events) SELECT * FROM json_to_recordset($1::json) AS x(account_id uuid, day date, type text, events int)`,
    [
      JSON.stringify(
        [...accountRows.values()].map(([account_id, day, type, events]) => ({ account_id, day, type, events })),
      ),
    ],
  );
  const contactRows = new Map<string, Record<string, unknown>>();
  for (const c of contacts) {
    const n = r.int(0, 12);
    for (let k = 0; k < n; k++) {
      const row = {
        contact_id: c.id,
        account_id: c.account_id,
        day: dayOf(MAIN_NOW, dayOffset()),
        type: r.pick(EVENT_TYPES),
        events: r.int(1, 5),
      };
      contactRows.set(`${row.contact_id}|${row.day}|${row.type}`, row);
    }
  }
  await q(
    `INSERT INTO contact_daily_usage (contact_id, account_id, day, type, events) SELECT * FROM json_to_recordset($1::json) AS x(contact_id uuid, account_id uuid, day date, type text, events int)`,
    [JSON.stringify([...contactRows.values()])],
  );

  // Site visitors: most linked to a contact (some contacts have two), some anonymous.
  const visitors = Array.from({ length: 500 }, () => {
    const contactId = r.chance(0.8) ? r.pick(contactIds) : null;
    return {
      id: r.uuid(),
      contact_id: contactId,
      link_status: contactId ? r.pick(['verified', 'unverified']) : null,
      linked_at: contactId ? '2026-09-01T00:00:00Z' : null,
    };
  });
  await q(
    `INSERT INTO visitors (id, first_seen_at, last_seen_at, contact_id, link_status, linked_at)
     SELECT id, '2026-08-01T00:00:00Z', '2026-10-31T00:00:00Z', contact_id, link_status, linked_at
       FROM json_to_recordset($1::json) AS x(id uuid, contact_id uuid, link_status text, linked_at timestamptz)`,
    [JSON.stringify(visitors)],
  );
  const siteRows = new Map<string, Record<string, unknown>>();
  for (const v of visitors) {
    const n = r.int(0, 8);
    for (let k = 0; k < n; k++) {
      const pageView = r.chance(0.85);
      const row = {
        visitor_id: v.id,
        day: dayOf(MAIN_NOW, dayOffset()),
        type: pageView ? 'site.page_viewed' : 'site.webinar_signup',
        section: pageView ? r.pick(SECTIONS) : '',
        events: r.int(1, 6),
      };
      siteRows.set(`${row.visitor_id}|${row.day}|${row.type}|${row.section}`, row);
    }
  }
  await q(
    `INSERT INTO visitor_daily_site (visitor_id, day, type, section, events) SELECT * FROM json_to_recordset($1::json) AS x(visitor_id uuid, day date, type text, section text, events int)`,
    [JSON.stringify([...siteRows.values()])],
  );
  return { accountIds, contactIds };
}

/* ---------------------------------------------------------- expressions */

const ACCOUNT_NUMBER_FACTS = [
  'account.arr',
  'account.days_since_start',
  'account.days_to_renewal',
  'account.logins_7d',
  'account.logins_14d',
  'account.logins_30d',
  'account.active_users_7d',
  'account.active_users_30d',
  'account.contacts',
  'account.days_since_last_activity',
  'account.opens_30d',
  'account.clicks_30d',
];
const CONTACT_NUMBER_FACTS = [
  'contact.logins_7d',
  'contact.logins_14d',
  'contact.logins_30d',
  'contact.days_since_last_activity',
  'contact.opens_30d',
  'contact.clicks_30d',
];
const STRING_FACTS: Record<string, readonly string[]> = {
  'account.plan': ['starter', 'pro', 'enterprise', 'Pro'],
  'account.currency': ['JPY', 'USD', 'EUR'],
  'account.status': ['active', 'churned'],
  'account.locale': ['ja', 'en'],
  'account.time_zone': ['Asia/Tokyo', 'UTC', 'Pacific/Kiritimati'],
  'account.tier': ['high-touch', 'mid-touch', 'tech-touch'],
  'account.lifecycle': ['onboarding', 'adoption', 'renewal'],
  'account.external_id': ['acc-1', 'acc-2', 'acc-200'],
  'account.name': ['Account 3'],
};
const CONTACT_STRING_FACTS: Record<string, readonly string[]> = {
  'contact.status': ['active', 'left', 'bounced'],
  'contact.locale': ['ja', 'en'],
  'contact.time_zone': ['Asia/Tokyo', 'America/Los_Angeles'],
  'contact.name': ['Contact 1', 'Contact 10'],
  'contact.external_id': ['c-1', 'c-5'],
};
const DATE_FACTS = ['account.contract_start', 'account.renewal_date', 'account.last_active_on'];
const CONTACT_DATE_FACTS = ['contact.last_active_on'];
const NUMBER_LITERALS = [
  '0',
  '1',
  '2',
  '3',
  '5',
  '7',
  '10',
  '0.5',
  '2.5',
  '-1',
  '-3',
  '0.1',
  '0.2',
  '0.3',
  '90',
  '1_000',
  '30000',
  '100_000',
];
const WINDOWS = ['1d', '2d', '7d', '14d', '30d', '2w', '48h', '60d', '90d'];
const ATTRIBUTE_KEYS = ['seats', 'vip', 'region', 'score', 'tier_hint', 'missing'];

/** Random well-typed expression texts over the catalogue, functions and operators. */
class ExpressionGenerator {
  constructor(
    private readonly r: Random,
    private readonly scope: 'account' | 'contact',
  ) {}

  private get contact(): boolean {
    return this.scope === 'contact';
  }

  private attribute(): string {
    const owner = this.contact && this.r.chance(0.5) ? 'contact' : 'account';
    return `${owner}.attributes.${this.r.pick(ATTRIBUTE_KEYS)}`;
  }

  number(depth: number): string {
    const r = this.r;
    const leaf = depth <= 0 || r.chance(0.35);
    if (leaf) {
      switch (r.int(0, 5)) {
        case 0:
          return r.pick(NUMBER_LITERALS);
        case 1:
          return r.pick(this.contact && r.chance(0.5) ? CONTACT_NUMBER_FACTS : ACCOUNT_NUMBER_FACTS);
        case 2: {
          const fn = this.contact && r.chance(0.5) ? 'contact.count' : r.pick(['count', 'account.count']);
          return `${fn}('${r.pick(EVENT_TYPES)}', ${r.pick(WINDOWS)})`;
        }
        case 3: {
          const fn = this.contact && r.chance(0.5) ? 'contact.visits' : r.pick(['visits', 'account.visits']);
          return `${fn}('${r.pick(Object.keys(SETTINGS.pageGroups))}', ${r.pick(WINDOWS)})`;
        }
        case 4:
          return `${r.pick(['days_since', 'days_until'])}(${this.date()})`;
        default:
          // Typed by the arithmetic (two bare attributes could not be compared with each other).
          return r.chance(0.5)
            ? `(${this.attribute()} * 1)`
            : `coalesce(${this.attribute()}, ${r.pick(NUMBER_LITERALS)})`;
      }
    }
    switch (r.int(0, 3)) {
      case 0:
        return `-(${this.number(depth - 1)})`;
      case 1:
        return `coalesce(${this.number(depth - 1)}, ${r.pick(NUMBER_LITERALS)})`;
      default:
        return `(${this.number(depth - 1)} ${r.pick(['+', '-', '*', '/', '%', '/', '%'])} ${this.number(depth - 1)})`;
    }
  }

  private date(): string {
    return this.r.pick(this.contact && this.r.chance(0.3) ? CONTACT_DATE_FACTS : DATE_FACTS);
  }

  private stringComparison(): string {
    const r = this.r;
    const facts = this.contact && r.chance(0.4) ? CONTACT_STRING_FACTS : STRING_FACTS;
    const fact = r.pick(Object.keys(facts));
    const values = facts[fact]!;
    switch (r.int(0, 3)) {
      case 0:
        return `${fact} ${r.pick(['==', '!='])} '${r.pick(values)}'`;
      case 1:
        return `${fact} ${r.pick(['in', 'not in'])} [${r
          .subset(values, 0.6)
          .concat(values[0]!)
          .map((v) => `'${v}'`)
          .join(', ')}]`;
      case 2:
        return `${fact} ${r.pick(['==', '!='])} null`;
      default:
        return `${fact} ${r.pick(['==', '!='])} ${r.pick(Object.keys(facts))}`;
    }
  }

  private attributeCondition(): string {
    const r = this.r;
    const attribute = this.attribute();
    switch (r.int(0, 6)) {
      case 0:
        return `${attribute} ${r.pick(['==', '!=', '<', '<=', '>', '>='])} ${r.pick(NUMBER_LITERALS)}`;
      case 1:
        return `${attribute} ${r.pick(['==', '!='])} '${r.pick(['kanto', 'gold', 'true', '5', '', 'KANTO'])}'`;
      case 2:
        return `${attribute} ${r.pick(['==', '!='])} ${r.pick(['true', 'false'])}`;
      case 3:
        return `${attribute} ${r.pick(['==', '!='])} null`;
      case 4:
        return `${r.pick(['', 'not '])}${attribute}`;
      case 5:
        return `${attribute} ${r.pick(['in', 'not in'])} ${r.pick(["['kanto', 'gold']", '[1, 3, 5, 0.3]', '[true]'])}`;
      default:
        return `coalesce(${attribute}, ${this.attribute()}) ${r.pick(['==', '!='])} ${r.pick(["'gold'", '5', 'true'])}`;
    }
  }

  condition(depth: number): string {
    const r = this.r;
    if (depth <= 0 || r.chance(0.3)) {
      switch (r.int(0, 8)) {
        case 0:
        case 1:
          return `${this.number(depth - 1)} ${r.pick(['==', '!=', '<', '<=', '>', '>='])} ${this.number(depth - 1)}`;
        case 2:
          return this.stringComparison();
        case 3:
          return this.attributeCondition();
        case 4:
          return `${this.date()} ${r.pick(['==', '!=', '<', '<=', '>', '>='])} ${this.date()}`;
        case 5:
          return `${r.pick([...ACCOUNT_NUMBER_FACTS, ...DATE_FACTS, ...(this.contact ? CONTACT_NUMBER_FACTS : [])])} ${r.pick(['==', '!='])} null`;
        case 6:
          return this.contact
            ? `'${r.pick(['admin', 'operator', 'champion', 'decision_maker'])}' ${r.pick(['in', 'not in'])} contact.roles`
            : r.pick(['account.has_owner', 'not account.has_owner']);
        case 7:
          return `segment('${r.pick(this.contact ? Object.keys(SEGMENTS) : ['engaged', 'pricing-curious'])}')`;
        default:
          return `${this.number(1)} ${r.pick(['in', 'not in'])} [${r.pick(['0, 1, 2', '3', '-1, 0.5, 90'])}]`;
      }
    }
    switch (r.int(0, 4)) {
      case 4:
        // Tests as values: true or false, never null, in both engines.
        return `(${this.condition(depth - 1)}) ${r.pick(['==', '!='])} ${r.pick(['true', 'false', `(${this.condition(depth - 1)})`])}`;
      case 0:
        return `not (${this.condition(depth - 1)})`;
      case 1:
        return `(${this.condition(depth - 1)}) and (${this.condition(depth - 1)})`;
      case 2:
        return `(${this.condition(depth - 1)}) or (${this.condition(depth - 1)})`;
      default:
        return `coalesce(${this.attribute()}, ${r.pick(['true', 'false', '(' + this.condition(depth - 1) + ')'])})`;
    }
  }
}

const HAND_PICKED: Record<'account' | 'contact', string[]> = {
  account: [
    "account.lifecycle == 'onboarding'",
    "account.lifecycle == 'renewal'",
    "account.lifecycle == 'adoption'",
    'account.days_since_start == 89',
    'account.days_since_start == 90',
    'account.days_since_start < 90',
    'account.days_since_start == 0',
    'account.days_since_start < 0',
    'account.days_to_renewal == 90',
    'account.days_to_renewal <= 90',
    'account.days_to_renewal == 0',
    'account.days_to_renewal < 0',
    'days_since(account.contract_start) == 0',
    'days_until(account.renewal_date) == 1',
    "count('login', 1d) > 0",
    "count('login', 2d) > count('login', 1d)",
    "count('email.opened', 30d) == account.opens_30d",
    "count('email.opened.machine', 30d) > 0",
    'account.logins_7d >= 1',
    'account.last_active_on == null',
    'account.days_since_last_activity == 0',
    'account.days_since_last_activity == 1',
    'account.days_since_last_activity > 60',
    "account.tier == 'high-touch'",
    "account.tier == 'mid-touch'",
    "account.tier == 'tech-touch' and account.arr != null",
    "visits('pricing', 1d) > 0",
    "visits('home', 7d) >= 1",
    "visits('blog', 400d) >= 3",
    'account.active_users_7d >= 1',
    'account.contacts >= 3',
    'account.attributes.seats > 3',
    'account.attributes.vip',
    'not account.attributes.vip',
    'account.attributes.vip != true',
    "account.attributes.region == ''",
    "account.attributes.region != 'kanto'",
    'account.attributes.missing == null',
    'account.attributes.seats == null',
    'account.attributes.seats * 2 >= 10',
    'account.arr / 0 == null',
    'account.arr % 0 == null',
    '(account.arr / 0) != null',
    '1 / 3 * 3 == 1',
    '0.1 + 0.2 == 0.3',
    '0.1 + 0.2 > 0.3',
    'account.attributes.score % 0.1 < 0.05',
    '-7 % 2 == -1',
    'account.attributes.score + 0.2 == 0.5',
    "segment('pricing-curious')",
    'account.renewal_date > account.contract_start',
    '14d == 2w and 48h < 3d',
    '(account.arr < 100_000) == null',
    '(account.arr < 100_000) == false',
    "(account.plan in ['pro']) != true",
    'coalesce(account.attributes.vip, account.arr > 5) == false',
    "'vip' in account.tags",
    "'trial' not in account.tags",
    "('vip' in account.tags) == (account.attributes.vip == true)",
    'coalesce(account.attributes.vip, account.arr > 5) != true',
  ],
  contact: [
    "'vip' in contact.tags",
    "'vip' not in contact.tags and 'trial' in account.tags",
    "'champion' in contact.roles",
    "'admin' not in contact.roles",
    "contact.count('login', 1d) > 0",
    "contact.visits('pricing', 30d) > 0",
    "contact.visits('home', 1d) >= 1",
    "contact.visits('docs', 14d) > visits('docs', 14d)",
    'contact.last_active_on == null',
    'contact.days_since_last_activity == 0',
    "contact.count('email.clicked', 30d) == contact.clicks_30d",
    'contact.attributes.vip or account.attributes.vip',
    "coalesce(contact.attributes.region, account.attributes.region) == 'kanto'",
    "segment('active-champion') and account.lifecycle != 'renewal'",
    "contact.status == 'active' and contact.roles != null",
    "account.lifecycle == 'onboarding' and 'admin' in contact.roles",
    "('admin' in contact.roles) == (contact.attributes.region == 'kanto')",
    "(contact.attributes.region in ['kanto']) == false",
  ],
};

/* ----------------------------------------------------------------- test */

interface Mismatch {
  expression: string;
  now: string;
  onlySql: string[];
  onlyMemory: string[];
}

describe(`expression agreement: population SQL and in-memory evaluation (${testEngine()})`, () => {
  let db: TestDatabase;
  let data: Seeded;
  let repository: FactSnapshotRepository;
  const FULL: FactRequirements = { windowDays: 400, lastActive: true, activeUsers: true, site: true };
  const snapshotCache = new Map<string, SubjectSnapshot[]>();

  beforeAll(async () => {
    db = await createTestDatabase();
    data = await seed(db);
    repository = new FactSnapshotRepository(db.dataSource);
  });
  afterAll(async () => {
    await db.close();
  });

  function check(
    text: string,
    scope: 'account' | 'contact',
    expect: CheckOptions['expect'] = 'boolean',
  ): CheckedExpression {
    const options: CheckOptions = { scope, expect, segments: SEGMENTS, pageGroups: SETTINGS.pageGroups };
    const result = analyzeExpression(text, options);
    if (!result.checked) throw new Error(`${text}: ${JSON.stringify(result.issues)}`);
    return result.checked;
  }

  async function subjects(scope: 'account' | 'contact', now: Date, requirements = FULL): Promise<SubjectSnapshot[]> {
    const key = `${scope}|${now.toISOString()}|${JSON.stringify(requirements)}`;
    let loaded = snapshotCache.get(key);
    if (!loaded) {
      loaded = await repository.loadSubjects(scope, scope === 'account' ? data.accountIds : data.contactIds, {
        now,
        requirements,
      });
      snapshotCache.set(key, loaded);
    }
    return loaded;
  }

  const context = (s: SubjectSnapshot, now: Date): FactContext => ({
    now,
    settings: SETTINGS,
    account: s.account,
    contact: s.contact,
    enrollment: undefined,
  });

  async function compare(
    expression: CheckedExpression,
    now: Date,
    requirements = FULL,
  ): Promise<{ mismatch: Mismatch | undefined; selected: number }> {
    const { sql, params } = buildPopulationQuery(expression, { now, settings: SETTINGS });
    const rows: { account_id: string; contact_id?: string }[] = await db.dataSource.query(sql, params);
    const bySql = new Set(rows.map((row) => row.contact_id ?? row.account_id));
    const inMemory = new Set<string>();
    for (const s of await subjects(expression.scope, now, requirements)) {
      if (evaluate(expression, context(s, now)) === true) inMemory.add(s.contact?.id ?? s.account.id);
    }
    const onlySql = [...bySql].filter((id) => !inMemory.has(id));
    const onlyMemory = [...inMemory].filter((id) => !bySql.has(id));
    const agree = onlySql.length === 0 && onlyMemory.length === 0;
    const mismatch = agree
      ? undefined
      : {
          expression: expression.source,
          now: now.toISOString(),
          onlySql: onlySql.slice(0, 5),
          onlyMemory: onlyMemory.slice(0, 5),
        };
    return { mismatch, selected: bySql.size };
  }

  /** Numeric values subject by subject, exactly (both null, or the same double). */
  async function compareValues(expression: CheckedExpression, now: Date): Promise<string[]> {
    const params = new SqlParameters();
    const value = compileValue(expression, { now, settings: SETTINGS }, params);
    const scope = expression.scope;
    const sql =
      scope === 'account'
        ? `SELECT a.id AS id, ${value.sql} AS v FROM accounts a`
        : `SELECT c.id AS id, ${value.sql} AS v FROM contacts c JOIN accounts a ON a.id = c.account_id`;
    const rows: { id: string; v: number | null }[] = await db.dataSource.query(sql, params.values);
    const bySql = new Map(rows.map((row) => [row.id, row.v]));
    const problems: string[] = [];
    for (const s of await subjects(scope, now)) {
      const id = s.contact?.id ?? s.account.id;
      const memory = evaluate(expression, context(s, now));
      const fromSql = bySql.get(id);
      if (!(memory === fromSql || (memory === null && fromSql === null))) {
        problems.push(`${expression.source} @ ${id}: memory ${String(memory)}, sql ${String(fromSql)}`);
      }
    }
    return problems;
  }

  it('the generated data is what the test means it to be', async () => {
    const count = async (table: string) =>
      (await db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
    expect(await count('accounts')).toBeGreaterThanOrEqual(200);
    expect(await count('contacts')).toBe(600);
    expect(await count('account_daily_usage')).toBeGreaterThan(2000);
    expect(await count('contact_daily_usage')).toBeGreaterThan(2000);
    expect(await count('visitor_daily_site')).toBeGreaterThan(1000);
    // Each lifecycle phase is there, so the lifecycle expressions decide something.
    const phases = new Set(
      (await subjects('account', MAIN_NOW)).map((s) =>
        evaluate(check('account.lifecycle', 'account', 'value'), context(s, MAIN_NOW)),
      ),
    );
    expect(phases).toEqual(new Set(['onboarding', 'adoption', 'renewal']));
  });

  it.each(['account', 'contact'] as const)('generated %s conditions select the same subjects', async (scope) => {
    const r = new Random(scope === 'account' ? 7 : 11);
    const generator = new ExpressionGenerator(r, scope);
    const mismatches: Mismatch[] = [];
    let nonTrivial = 0;
    for (let i = 0; i < 150; i++) {
      const expression = check(generator.condition(r.int(1, 4)), scope);
      const now = i % 5 === 0 ? r.pick(EDGE_NOWS) : MAIN_NOW;
      const { mismatch, selected } = await compare(expression, now);
      if (mismatch) mismatches.push(mismatch);
      if (selected > 0 && selected < (scope === 'account' ? data.accountIds.length : data.contactIds.length))
        nonTrivial++;
    }
    expect(mismatches).toEqual([]);
    // The generator must produce conditions that split the population, not just true/false for all.
    expect(nonTrivial).toBeGreaterThan(50);
  });

  it.each(['account', 'contact'] as const)('generated %s numbers are equal subject by subject', async (scope) => {
    const r = new Random(scope === 'account' ? 13 : 17);
    const generator = new ExpressionGenerator(r, scope);
    const problems: string[] = [];
    for (let i = 0; i < 60; i++) {
      const expression = check(generator.number(r.int(1, 4)), scope, 'value');
      expect(expression.type).toBe('number');
      problems.push(...(await compareValues(expression, i % 4 === 0 ? r.pick(EDGE_NOWS) : MAIN_NOW)));
    }
    expect(problems.slice(0, 10)).toEqual([]);
  });

  it.each(['account', 'contact'] as const)(
    'hand-picked %s edge cases agree at every edge of the day',
    async (scope) => {
      const mismatches: Mismatch[] = [];
      const texts = scope === 'account' ? HAND_PICKED.account : [...HAND_PICKED.contact, ...HAND_PICKED.account];
      for (const text of texts) {
        const expression = check(text, scope);
        for (const now of [MAIN_NOW, ...EDGE_NOWS]) {
          const { mismatch } = await compare(expression, now);
          if (mismatch) mismatches.push(mismatch);
        }
      }
      expect(mismatches).toEqual([]);
    },
  );

  it('snapshots loaded for only what an expression needs give the same answers', async () => {
    const r = new Random(23);
    const mismatches: Mismatch[] = [];
    for (const scope of ['account', 'contact'] as const) {
      const generator = new ExpressionGenerator(r, scope);
      for (let i = 0; i < 25; i++) {
        const expression = check(generator.condition(r.int(1, 3)), scope);
        const { mismatch } = await compare(expression, MAIN_NOW, requirementsOf([expression]));
        if (mismatch) mismatches.push(mismatch);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('lifecycle boundaries fall where the settings say, in the account zone', async () => {
    const phase = check('account.lifecycle', 'account', 'value');
    const byExternalId = new Map((await subjects('account', MAIN_NOW)).map((s) => [s.account.externalId, s]));
    const at = (externalId: string, now = MAIN_NOW) => evaluate(phase, context(byExternalId.get(externalId)!, now));
    // Accounts 200.. are the boundary ones: per zone 5 start offsets (89, 90, 91, 0, -1), 6 renewal offsets, 1 mixed.
    for (let z = 0; z < 4; z++) {
      const base = 200 + z * 12;
      expect([0, 1, 2, 3, 4].map((k) => at(`acc-${base + k}`))).toEqual([
        'onboarding',
        'adoption',
        'adoption',
        'onboarding',
        'onboarding',
      ]);
      expect([5, 6, 7, 8, 9, 10].map((k) => at(`acc-${base + k}`))).toEqual([
        'renewal',
        'renewal',
        'adoption',
        'renewal',
        'renewal',
        'renewal',
      ]);
      expect(at(`acc-${base + 11}`)).toBe('renewal');
    }
  });
});
