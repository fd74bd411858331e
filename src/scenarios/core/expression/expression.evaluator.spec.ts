import type { AccountSnapshot, ContactSnapshot, FactContext, FactSettings } from '../facts/fact-context';
import { type CheckOptions, checkExpression } from './expression.checker';
import { evaluate } from './expression.evaluator';
import { parseExpression } from './expression.parser';
import { NumberRangeError } from './float8.util';

const SETTINGS: FactSettings = {
  tierThresholds: {
    JPY: { highTouch: 10_000_000, midTouch: 3_000_000 },
    USD: { highTouch: 100_000, midTouch: 30_000 },
  },
  onboardingDays: 90,
  renewalWindowDays: 90,
  defaultTimeZone: 'Asia/Tokyo',
  pageGroups: { pricing: ['pricing', 'plans'], home: [''] },
};

/** 2026-11-01 12:00 UTC: 21:00 in Tokyo, 04:00 in Los Angeles (PST), 02:00 the next day in Kiritimati. */
const NOW = new Date('2026-11-01T12:00:00Z');

function account(overrides: Partial<AccountSnapshot> = {}): AccountSnapshot {
  return {
    id: 'a1',
    externalId: 'acme',
    name: 'Acme',
    plan: 'pro',
    arr: null,
    currency: null,
    ownerCsmId: null,
    contractStart: null,
    renewalDate: null,
    timeZone: null,
    locale: null,
    status: 'active',
    attributes: {},
    activeContacts: 0,
    openHandoffs: 0,
    daily: [],
    activeContactDays: [],
    site: [],
    ...overrides,
  };
}

function contact(overrides: Partial<ContactSnapshot> = {}): ContactSnapshot {
  return {
    id: 'c1',
    externalId: 'c-1',
    accountId: 'a1',
    name: null,
    roles: [],
    locale: null,
    timeZone: null,
    status: 'active',
    attributes: {},
    daily: [],
    site: [],
    ...overrides,
  };
}

interface Subject {
  account?: Partial<AccountSnapshot>;
  contact?: Partial<ContactSnapshot>;
  now?: Date | string;
  settings?: Partial<FactSettings>;
  enrollment?: FactContext['enrollment'];
}

function run(text: string, subject: Subject = {}, options: Partial<CheckOptions> = {}) {
  const parsed = parseExpression(text);
  if (!parsed.ok) throw new Error(parsed.issues[0]!.message);
  const scope = subject.contact ? 'contact' : 'account';
  const result = checkExpression(parsed.expression, { scope, pageGroups: SETTINGS.pageGroups, ...options });
  if (!result.checked) throw new Error(`${text}: ${result.issues.map((i) => i.message).join('; ')}`);
  const now = subject.now === undefined ? NOW : new Date(subject.now);
  return evaluate(result.checked, {
    now,
    settings: { ...SETTINGS, ...subject.settings },
    account: account(subject.account),
    contact: subject.contact ? contact(subject.contact) : undefined,
    enrollment: subject.enrollment,
  });
}

const value = (text: string, subject: Subject = {}) => run(text, subject, { expect: 'value' });

describe('evaluate: null and two-valued logic', () => {
  const noArr = { account: { arr: null } };
  it.each([
    ['account.arr == 5', false],
    ['account.arr != 5', false],
    ['account.arr < 5', false],
    ['not (account.arr < 5)', true],
    ['account.arr in [5]', false],
    ['account.arr not in [5]', false],
    ['account.arr == null', true],
    ['account.arr != null', false],
    ['account.arr + 1 == null', true],
    ['-account.arr == null', true],
    ['coalesce(account.arr, 7) == 7', true],
    ['coalesce(account.arr, null, 8) == 8', true],
    ['account.arr < 5 or account.arr >= 5', false],
    ['not (account.arr < 5 or account.arr >= 5)', true],
  ])('%s is %s when the value is null', (text, expected) => {
    expect(run(text, noArr)).toBe(expected);
  });

  it('divides and takes remainders by zero to null, never Infinity', () => {
    expect(value('account.arr / 0', { account: { arr: 10 } })).toBeNull();
    expect(value('account.arr % 0', { account: { arr: 10 } })).toBeNull();
    expect(value('0 / 0')).toBeNull();
    expect(run('account.arr / 0 > 1', { account: { arr: 10 } })).toBe(false);
    expect(run('account.arr / 0 <= 1', { account: { arr: 10 } })).toBe(false);
    expect(value('-1 / 0')).toBeNull();
  });

  it('computes with doubles, the remainder as a - b * trunc(a / b)', () => {
    expect(run('0.1 + 0.2 == 0.3')).toBe(false);
    expect(value('0.1 + 0.2')).toBe(0.30000000000000004);
    expect(value('7 % 3')).toBe(1);
    expect(value('-7 % 2')).toBe(-1);
    expect(value('7 % -2')).toBe(1);
    expect(value('7.5 % 2')).toBe(1.5);
    expect(value('1 / 3 * 3')).toBe(1);
    expect(value('1_000 * 1.5 - 2')).toBe(1498);
  });

  it('fails like PostgreSQL when a double overflows or underflows', () => {
    const big = { account: { attributes: { x: 1e300 } } };
    expect(() => value('account.attributes.x * account.attributes.x', big)).toThrow(NumberRangeError);
    expect(() => value('account.attributes.x * 1_000_000_000', big)).toThrow('value out of range: overflow');
    const tiny = { account: { attributes: { x: 1e-300 } } };
    expect(() => value('account.attributes.x * account.attributes.x', tiny)).toThrow('value out of range: underflow');
    const ratio = { account: { attributes: { x: 1e-300, y: 1e300 } } };
    expect(() => value('account.attributes.x / account.attributes.y', ratio)).toThrow('value out of range: underflow');
    // Subnormal results are no underflow, in PostgreSQL either.
    expect(value('account.attributes.x / 1_000_000_000', tiny)).toBeGreaterThan(0);
  });

  it('short-circuits and/or on booleans and treats null conditions as false', () => {
    expect(run('account.attributes.vip', { account: { attributes: {} } })).toBe(false);
    expect(run('not account.attributes.vip', { account: { attributes: {} } })).toBe(true);
    expect(run('not account.attributes.vip', { account: { attributes: { vip: true } } })).toBe(false);
    expect(run('account.attributes.vip or account.has_owner', { account: { ownerCsmId: 'x' } })).toBe(true);
    expect(run('coalesce(account.attributes.vip, true)', { account: { attributes: { vip: false } } })).toBe(false);
    expect(run('coalesce(account.attributes.vip, true)', { account: { attributes: { vip: null } } })).toBe(true);
  });
});

describe('evaluate: custom attributes', () => {
  const attrs = { seats: 12, plan: 'pro', vip: true, nothing: null, text_number: '12', list: ['a'] };
  it.each([
    ['account.attributes.seats > 10', true],
    ["account.attributes.seats == '12'", false],
    ['account.attributes.text_number > 10', false],
    ["account.attributes.text_number == '12'", true],
    ["account.attributes.plan == 'pro'", true],
    ["account.attributes.plan == 'Pro'", false],
    ["account.attributes.plan != 'x'", true],
    ['account.attributes.plan != 1', false],
    ['account.attributes.vip == true', true],
    ['account.attributes.vip', true],
    ['account.attributes.plan', false],
    ['account.attributes.seats', false],
    ['account.attributes.nothing == null', true],
    ['account.attributes.missing == null', true],
    ['account.attributes.plan == null', false],
    ['account.attributes.list == null', false],
    ["account.attributes.list != 'a'", false],
    ['account.attributes.seats * 2 == 24', true],
    ['account.attributes.plan * 2 == null', true],
    ["account.attributes.plan in ['pro', 'team']", true],
    ['account.attributes.seats in [12]', true],
    ['account.attributes.seats not in [1]', true],
    ['account.attributes.plan not in [1]', false],
    ['account.attributes.constructor == null', true],
    ['account.attributes.toString == null', true],
  ])('%s is %s', (text, expected) => {
    expect(run(text, { account: { attributes: attrs } })).toBe(expected);
  });

  it('reads only own keys, even __proto__ from parsed JSON', () => {
    const attributes = JSON.parse('{"__proto__": 5}') as Record<string, number>;
    expect(run('account.attributes.__proto__ == 5', { account: { attributes } })).toBe(true);
    expect(run('account.attributes.__proto__ == null', { account: { attributes: {} } })).toBe(true);
  });

  it('reads contact attributes, and falls back across contact and account with coalesce', () => {
    const subject = { contact: { attributes: { region: null } }, account: { attributes: { region: 'kanto' } } };
    expect(run("coalesce(contact.attributes.region, account.attributes.region) == 'kanto'", subject)).toBe(true);
    expect(run('contact.attributes.region == null', subject)).toBe(true);
  });
});

describe('evaluate: strings, lists and equality', () => {
  it('compares strings exactly', () => {
    expect(run("account.name == 'Acme'")).toBe(true);
    expect(run("account.name == 'acme'")).toBe(false);
    expect(run("account.name == 'Acme '")).toBe(false);
    expect(run("account.plan in ['pro', 'team']")).toBe(true);
    expect(run("account.plan not in ['pro']")).toBe(false);
  });

  it('tests roles with in / not in', () => {
    const subject = { contact: { roles: ['admin', 'champion'] } };
    expect(run("'champion' in contact.roles", subject)).toBe(true);
    expect(run("'operator' in contact.roles", subject)).toBe(false);
    expect(run("'operator' not in contact.roles", subject)).toBe(true);
    expect(run("'admin' not in contact.roles", { contact: { roles: [] } })).toBe(true);
    expect(run('contact.attributes.role in contact.roles', { contact: { roles: ['admin'], attributes: {} } })).toBe(
      false,
    );
    expect(run('contact.attributes.role not in contact.roles', { contact: { roles: ['admin'], attributes: {} } })).toBe(
      false,
    );
  });

  it('compares durations by length', () => {
    expect(run('14d == 2w and 48h == 2d and 60m == 1h and 30m < 1h')).toBe(true);
    expect(value('2w')).toBe(20_160);
  });
});

describe('evaluate: tier', () => {
  it.each<[number | null, string | null, string]>([
    [null, null, 'tech-touch'],
    [null, 'JPY', 'tech-touch'],
    [10_000_000, 'JPY', 'high-touch'],
    [9_999_999.99, 'JPY', 'mid-touch'],
    [3_000_000, 'JPY', 'mid-touch'],
    [2_999_999, 'JPY', 'tech-touch'],
    [100_000, 'USD', 'high-touch'],
    [30_000, 'USD', 'mid-touch'],
    [29_999.99, 'USD', 'tech-touch'],
    [0, 'USD', 'tech-touch'],
    [50_000_000, 'EUR', 'tech-touch'],
  ])('ARR %s %s is %s', (arr, currency, tier) => {
    expect(value('account.tier', { account: { arr, currency } })).toBe(tier);
  });

  it('is tech-touch for everyone without thresholds', () => {
    expect(value('account.tier', { account: { arr: 1e9, currency: 'JPY' }, settings: { tierThresholds: {} } })).toBe(
      'tech-touch',
    );
  });
});

describe('evaluate: calendar facts in the account time zone', () => {
  // 14:59:59 UTC is 23:59:59 in Tokyo (Nov 1); a second later it is Nov 2 there.
  const beforeTokyoMidnight = '2026-11-01T14:59:59.999Z';
  const atTokyoMidnight = '2026-11-01T15:00:00.000Z';

  it('counts days since the start from today in the zone (default zone: DEFAULT_TIMEZONE)', () => {
    const subject = { account: { contractStart: '2026-11-01' } };
    expect(value('account.days_since_start', { ...subject, now: beforeTokyoMidnight })).toBe(0);
    expect(value('account.days_since_start', { ...subject, now: atTokyoMidnight })).toBe(1);
    const la = { account: { contractStart: '2026-11-01', timeZone: 'America/Los_Angeles' } };
    // 2026-11-02 07:59:59 UTC is still Nov 1 in Los Angeles (PST, the day DST ended).
    expect(value('account.days_since_start', { ...la, now: '2026-11-02T07:59:59.999Z' })).toBe(0);
    expect(value('account.days_since_start', { ...la, now: '2026-11-02T08:00:00.000Z' })).toBe(1);
    // Kiritimati is UTC+14: its Nov 2 begins at 10:00 UTC on Nov 1.
    const kiritimati = { account: { contractStart: '2026-11-02', timeZone: 'Pacific/Kiritimati' } };
    expect(value('account.days_since_start', { ...kiritimati, now: '2026-11-01T09:59:59.999Z' })).toBe(-1);
    expect(value('account.days_since_start', { ...kiritimati, now: '2026-11-01T10:00:00.000Z' })).toBe(0);
  });

  it('counts days to renewal, negative when overdue, null without a date', () => {
    expect(value('account.days_to_renewal', { account: { renewalDate: '2026-11-30' } })).toBe(29);
    expect(value('account.days_to_renewal', { account: { renewalDate: '2026-10-30' } })).toBe(-2);
    expect(value('account.days_to_renewal')).toBeNull();
    expect(
      value('days_until(account.renewal_date)', { account: { renewalDate: '2026-11-30' }, now: atTokyoMidnight }),
    ).toBe(28);
    expect(value('days_since(account.renewal_date)', { account: { renewalDate: '2026-11-30' } })).toBe(-29);
    expect(value('days_since(account.contract_start)')).toBeNull();
  });

  it('puts lifecycle boundaries at exactly N and M days, renewal first', () => {
    const phase = (contractStart: string | null, renewalDate: string | null) =>
      value('account.lifecycle', { account: { contractStart, renewalDate } });
    // Today in Tokyo is 2026-11-01; ONBOARDING_DAYS = RENEWAL_WINDOW_DAYS = 90.
    expect(phase('2026-08-04', null)).toBe('onboarding'); // day 89
    expect(phase('2026-08-03', null)).toBe('adoption'); // day 90
    expect(phase('2026-12-01', null)).toBe('onboarding'); // before the start
    expect(phase(null, null)).toBe('adoption');
    expect(phase(null, '2027-01-30')).toBe('renewal'); // 90 days to go
    expect(phase(null, '2027-01-31')).toBe('adoption'); // 91
    expect(phase(null, '2026-10-01')).toBe('renewal'); // overdue
    expect(phase('2026-10-30', '2026-12-01')).toBe('renewal'); // both: renewal wins
    // Day 89 ends at midnight in Tokyo: one millisecond later the account is in adoption.
    expect(value('account.lifecycle', { account: { contractStart: '2026-08-04' }, now: beforeTokyoMidnight })).toBe(
      'onboarding',
    );
    expect(value('account.lifecycle', { account: { contractStart: '2026-08-04' }, now: atTokyoMidnight })).toBe(
      'adoption',
    );
    expect(value('account.lifecycle', { account: { contractStart: '2026-08-03' }, now: beforeTokyoMidnight })).toBe(
      'adoption',
    );
    expect(value('account.lifecycle', { account: { contractStart: '2026-08-05' }, now: atTokyoMidnight })).toBe(
      'onboarding',
    );
    // In Los Angeles it is still Nov 1 at Tokyo midnight: day 89.
    const la = { contractStart: '2026-08-04', timeZone: 'America/Los_Angeles' };
    expect(value('account.lifecycle', { account: la, now: atTokyoMidnight })).toBe('onboarding');
    expect(value('account.lifecycle', { account: la, now: '2026-11-02T08:00:00Z' })).toBe('adoption');
    expect(
      value('account.lifecycle', { account: { contractStart: '2026-08-04' }, settings: { onboardingDays: 0 } }),
    ).toBe('adoption');
  });

  it('fails on an unknown time zone instead of guessing', () => {
    expect(() =>
      value('account.days_since_start', { account: { contractStart: '2026-11-01', timeZone: 'Mars/Base' } }),
    ).toThrow("unknown time zone 'Mars/Base'");
  });
});

describe('evaluate: rollup windows (UTC days ending today)', () => {
  const daily = [
    { day: '2026-11-01', type: 'login', count: 1 },
    { day: '2026-10-26', type: 'login', count: 2 }, // the 7th day back: inside 7d
    { day: '2026-10-25', type: 'login', count: 4 }, // the 8th: outside 7d
    { day: '2026-10-19', type: 'login', count: 8 }, // the 14th
    { day: '2026-10-03', type: 'login', count: 16 }, // the 30th
    { day: '2026-10-02', type: 'login', count: 32 }, // the 31st
    { day: '2026-11-02', type: 'login', count: 64 }, // tomorrow (clock skew): never counted
    { day: '2026-11-01', type: 'email.opened', count: 3 },
    { day: '2026-11-01', type: 'email.opened.machine', count: 5 },
    { day: '2026-10-30', type: 'email.clicked', count: 1 },
    { day: '2026-10-20', type: 'report_exported', count: 1 },
    { day: '2026-10-31', type: 'email.sent', count: 9 },
  ];

  it.each([
    ['account.logins_7d', 3],
    ['account.logins_14d', 15],
    ['account.logins_30d', 31],
    ["count('login', 1d)", 1],
    ["count('login', 31d)", 63],
    ["account.count('login', 400d)", 63],
    ['account.opens_30d', 3],
    ["count('email.opened.machine', 30d)", 5],
    ['account.clicks_30d', 1],
    ["count('nothing', 30d)", 0],
  ])('%s = %s', (text, expected) => {
    expect(value(text, { account: { daily } })).toBe(expected);
  });

  it('moves windows at UTC midnight, whatever the account zone', () => {
    const subject = { account: { daily, timeZone: 'Pacific/Kiritimati' } };
    expect(value("count('login', 1d)", { ...subject, now: '2026-11-01T23:59:59.999Z' })).toBe(1);
    expect(value("count('login', 1d)", { ...subject, now: '2026-11-02T00:00:00.000Z' })).toBe(64);
  });

  it('reads the latest product-usage day (not email, site, handoff or tend events), today at most', () => {
    expect(value('account.last_active_on', { account: { daily } })).toBe('2026-11-01');
    expect(value('account.days_since_last_activity', { account: { daily } })).toBe(0);
    const old = [
      { day: '2026-10-20', type: 'report_exported', count: 1 },
      { day: '2026-10-31', type: 'email.sent', count: 9 },
      { day: '2026-10-31', type: 'site.page_viewed', count: 9 },
      { day: '2026-10-31', type: 'tend.note', count: 9 },
      { day: '2026-10-31', type: 'handoff.created', count: 9 },
    ];
    expect(value('account.last_active_on', { account: { daily: old } })).toBe('2026-10-20');
    expect(value('account.days_since_last_activity', { account: { daily: old } })).toBe(12);
    expect(value('account.last_active_on')).toBeNull();
    expect(value('account.days_since_last_activity')).toBeNull();
    expect(
      value('days_since(account.last_active_on)', { account: { daily: old }, now: atTokyo('2026-11-02 00:30') }),
    ).toBe(13);
  });

  it('counts active users as distinct contacts with usage in the window', () => {
    const activeContactDays = [
      { contactId: 'x', day: '2026-11-01' },
      { contactId: 'x', day: '2026-10-31' },
      { contactId: 'y', day: '2026-10-20' },
      { contactId: 'z', day: '2026-09-01' },
    ];
    expect(value('account.active_users_7d', { account: { activeContactDays } })).toBe(1);
    expect(value('account.active_users_30d', { account: { activeContactDays } })).toBe(2);
    expect(value('account.contacts', { account: { activeContacts: 4 } })).toBe(4);
  });

  it('counts page views of a page group, for the account and for the contact', () => {
    const site = [
      { day: '2026-11-01', type: 'site.page_viewed', section: 'pricing', count: 2 },
      { day: '2026-10-30', type: 'site.page_viewed', section: 'plans', count: 1 },
      { day: '2026-10-30', type: 'site.page_viewed', section: '', count: 5 },
      { day: '2026-10-30', type: 'site.webinar_signup', section: '', count: 7 },
      { day: '2026-10-01', type: 'site.page_viewed', section: 'pricing', count: 10 },
    ];
    expect(value("visits('pricing', 7d)", { account: { site } })).toBe(3);
    expect(value("visits('pricing', 1d)", { account: { site } })).toBe(2);
    expect(value("visits('pricing', 400d)", { account: { site } })).toBe(13);
    expect(value("visits('home', 7d)", { account: { site } })).toBe(5);
    expect(value("contact.visits('pricing', 7d)", { contact: { site: site.slice(0, 1) }, account: { site } })).toBe(2);
    expect(value("account.visits('pricing', 7d)", { contact: { site: [] }, account: { site } })).toBe(3);
  });

  it('reads contact facts from the contact and account facts from its account', () => {
    const subject = {
      contact: { daily: [{ day: '2026-11-01', type: 'login', count: 2 }], roles: ['admin'], name: 'Hanako' },
      account: { daily: [{ day: '2026-11-01', type: 'login', count: 9 }] },
    };
    expect(value('contact.logins_7d', subject)).toBe(2);
    expect(value("contact.count('login', 7d)", subject)).toBe(2);
    expect(value("count('login', 7d)", subject)).toBe(9);
    expect(value('account.logins_7d', subject)).toBe(9);
    expect(value('contact.name', subject)).toBe('Hanako');
    expect(value('contact.roles', subject)).toEqual(['admin']);
    expect(value('contact.last_active_on', subject)).toBe('2026-11-01');
  });
});

describe('evaluate: segments and journey conditions', () => {
  it('evaluates an inlined segment', () => {
    const segments = { owned: { scope: 'account' as const, when: 'account.has_owner' } };
    expect(run("segment('owned')", { account: { ownerCsmId: 'csm' } }, { segments })).toBe(true);
    expect(run("not segment('owned')", {}, { segments })).toBe(true);
  });

  it("reads opened()/clicked() from the enrollment's activity", () => {
    const enrollment = { opened: (step: string) => step === 'tips', clicked: () => false };
    const options = { context: 'enrollment' as const };
    expect(run("opened('tips') and not clicked('tips')", { enrollment }, options)).toBe(true);
    expect(run("opened('other')", { enrollment }, options)).toBe(false);
    expect(() => run("opened('tips')", {}, options)).toThrow('opened() needs an enrollment');
  });
});

function atTokyo(local: string): string {
  return new Date(`${local.replace(' ', 'T')}:00+09:00`).toISOString();
}
