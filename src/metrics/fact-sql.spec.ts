import { analyzeExpression, type CheckOptions } from '../scenarios/core/expression';
import type { FactSettings } from '../scenarios/core/facts/fact-context';
import { buildPopulationQuery, compileCondition, ExpressionCompileError, SqlParameters } from './fact-sql';

const SETTINGS: FactSettings = {
  tierThresholds: { JPY: { highTouch: 10_000_000, midTouch: 3_000_000 } },
  onboardingDays: 90,
  renewalWindowDays: 60,
  defaultTimeZone: 'Asia/Tokyo',
  pageGroups: { pricing: ['pricing', 'plans'] },
};
const NOW = new Date('2026-11-01T12:00:00Z');

function checked(text: string, options: Partial<CheckOptions> = {}) {
  const result = analyzeExpression(text, { scope: 'contact', pageGroups: SETTINGS.pageGroups, ...options });
  if (!result.checked) throw new Error(result.issues.map((i) => i.message).join('; '));
  return result.checked;
}

describe('buildPopulationQuery', () => {
  it('selects accounts, or contacts with their account, where every condition holds', () => {
    const accounts = buildPopulationQuery(checked('account.logins_14d < 3', { scope: 'account' }), {
      now: NOW,
      settings: SETTINGS,
    });
    expect(accounts.sql).toMatch(/^SELECT a\.id AS account_id FROM accounts a\nWHERE /);
    const contacts = buildPopulationQuery(
      [checked("'admin' in contact.roles"), checked('account.has_owner', { scope: 'account' })],
      {
        now: NOW,
        settings: SETTINGS,
      },
    );
    expect(contacts.sql).toMatch(
      /^SELECT c\.id AS contact_id, c\.account_id FROM contacts c JOIN accounts a ON a\.id = c\.account_id\nWHERE /,
    );
    expect(contacts.sql).toContain('\n  AND (a.owner_csm_id IS NOT NULL)');
  });

  it('binds every value: user text never reaches the SQL', () => {
    const hostile = "x'; DROP TABLE accounts; --";
    const expression = checked(
      `account.name == "${hostile}" or contact.attributes.k_1 == '${hostile.replaceAll("'", "\\'")}'`,
    );
    const { sql, params } = buildPopulationQuery(expression, { now: NOW, settings: SETTINGS });
    expect(sql).not.toContain('DROP');
    expect(sql).not.toContain('k_1');
    expect(params).toContain(hostile);
    expect(params).toContain('k_1');
    expect(sql).toMatch(/a\.name = \$\d+::text/);
  });

  it('binds now, the zone, windows and settings, sharing equal parameters', () => {
    const expression = checked(
      "account.lifecycle == 'renewal' and account.tier != 'high-touch' and count('login', 7d) > account.logins_7d",
      {
        scope: 'account',
      },
    );
    const { sql, params } = buildPopulationQuery(expression, { now: NOW, settings: SETTINGS });
    expect(params).toEqual(
      expect.arrayContaining([
        '2026-11-01T12:00:00.000Z',
        'Asia/Tokyo',
        '2026-10-26',
        '2026-11-01',
        'JPY',
        10_000_000,
        60,
        90,
      ]),
    );
    expect(params.filter((p) => p === 'login')).toHaveLength(1);
    expect(new Set(params.map((p) => JSON.stringify(p))).size).toBe(params.length);
    expect(sql).toContain('AT TIME ZONE COALESCE(a.time_zone, $');
    expect(sql).toContain('FROM account_daily_usage u WHERE u.account_id = a.id AND u.type = $');
  });

  it('makes comparisons with NULL false, and division by zero NULL', () => {
    const compile = (text: string) =>
      compileCondition(checked(text, { scope: 'account' }), { now: NOW, settings: SETTINGS }, new SqlParameters());
    expect(compile('account.arr != 5')).toMatch(/^\(\(a\.arr_amount::float8 <> \$1::float8\) IS TRUE\)$/);
    expect(compile('account.logins_7d != 5')).not.toContain('IS TRUE');
    expect(compile('not (account.arr < 5)')).toMatch(/^\(NOT \(\(a\.arr_amount::float8 < \$1::float8\) IS TRUE\)\)$/);
    // A test is two-valued as a value too.
    expect(compile('(account.arr < 5) == null')).toMatch(
      /^\(\(\(a\.arr_amount::float8 < \$1::float8\) IS TRUE\) IS NULL\)$/,
    );
    expect(compile('account.attributes.vip')).toMatch(/^\(\(CASE WHEN .* END\) IS TRUE\)$/);
    expect(compile('account.arr / 0 == null')).toContain('NULLIF($1::float8, $1::float8)');
    expect(compile('account.attributes.seats > 1')).toContain("jsonb_typeof(a.attributes -> $1::text) = 'number'");
  });

  it('restricts to given subjects', () => {
    const { sql, params } = buildPopulationQuery(checked('account.has_owner', { scope: 'account' }), {
      now: NOW,
      settings: SETTINGS,
      subjectIds: ['00000000-0000-4000-a000-000000000001'],
    });
    expect(sql).toContain('a.id = ANY($1::uuid[])');
    expect(params).toEqual([['00000000-0000-4000-a000-000000000001']]);
  });

  it('refuses what cannot run over the population', () => {
    const step = checked("opened('tips')", { context: 'enrollment' });
    expect(() => buildPopulationQuery(step, { now: NOW, settings: SETTINGS })).toThrow(ExpressionCompileError);
    expect(() =>
      buildPopulationQuery(checked('contact.logins_7d > 1'), { now: NOW, settings: SETTINGS, scope: 'account' }),
    ).toThrow('a contact expression cannot select accounts');
    const value = analyzeExpression('account.arr', { scope: 'account', expect: 'value' }).checked!;
    expect(() => buildPopulationQuery(value, { now: NOW, settings: SETTINGS })).toThrow('not a condition: number');
  });
});
