import { FUNCTION_CATALOGUE } from '../expression/expression.functions';
import { parseExpression } from '../expression/expression.parser';
import { checkExpression } from '../expression/expression.checker';
import { FACT_CATALOGUE, findFact } from './catalogue';
import { isUsageType } from './fact-context';

describe('fact catalogue', () => {
  it('names every fact once, with its scope as prefix', () => {
    const names = FACT_CATALOGUE.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const fact of FACT_CATALOGUE) expect(fact.name).toBe(`${fact.scope}.${fact.key}`);
    expect(findFact('account.logins_14d')?.type).toBe('number');
    expect(findFact('account.constructor')).toBeUndefined();
    expect(findFact('toString')).toBeUndefined();
  });

  it('has examples that check in their own scope, for every fact and function', () => {
    const check = (text: string) => {
      const parsed = parseExpression(text);
      if (!parsed.ok) return parsed.issues.map((i) => `${text}: ${i.message}`);
      const result = checkExpression(parsed.expression, {
        scope: 'contact',
        context: 'enrollment',
        pageGroups: { pricing: ['pricing'] },
        segments: { 'at-risk': { scope: 'account', when: 'account.logins_14d < 3' } },
      });
      return result.issues.map((i) => `${text}: ${i.message}`);
    };
    expect(FACT_CATALOGUE.flatMap((f) => check(f.example))).toEqual([]);
    expect(FUNCTION_CATALOGUE.flatMap((f) => check(f.example))).toEqual([]);
  });

  it('tells product usage from the events Tend writes', () => {
    expect(['login', 'report_exported', 'emails.sent', 'sitemap.viewed'].every(isUsageType)).toBe(true);
    expect(['email.opened', 'site.page_viewed', 'handoff.created', 'tend.note'].some(isUsageType)).toBe(false);
  });
});
