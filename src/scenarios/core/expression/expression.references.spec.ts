import { checkExpression } from './expression.checker';
import { parseExpression } from './expression.parser';
import { referencesOf, requirementsOf } from './expression.references';
import type { Expression } from './expression.types';

function parse(text: string): Expression {
  const result = parseExpression(text);
  if (!result.ok) throw new Error(result.issues[0]!.message);
  return result.expression;
}

describe('referencesOf', () => {
  it('lists facts, event types, segments, page groups and step ids with their spans', () => {
    const text =
      "account.logins_14d < 3 and count('report_exported', 7d) > 0 and visits('pricing', 7d) > 0 and segment('at-risk') and not opened('tips') and contact.attributes.plan == 'x' and clicked('tips')";
    const refs = referencesOf(parse(text));
    const at = (span: { start: number; end: number }) => text.slice(span.start, span.end);
    expect(refs.facts.map((f) => [f.name, at(f.span)])).toEqual([
      ['account.logins_14d', 'account.logins_14d'],
      ['contact.attributes.plan', 'contact.attributes.plan'],
    ]);
    expect(refs.eventTypes.map((e) => [e.type, at(e.span)])).toEqual([['report_exported', "'report_exported'"]]);
    expect(refs.pageGroups.map((g) => g.name)).toEqual(['pricing']);
    expect(refs.segments.map((s) => s.name)).toEqual(['at-risk']);
    expect(refs.stepIds.map((s) => [s.id, at(s.span)])).toEqual([
      ['tips', "'tips'"],
      ['tips', "'tips'"],
    ]);
  });

  it('finds references even where the checker would object', () => {
    const refs = referencesOf(parse("contact.count('Not A Type', 3h) + unknown_fact"));
    expect(refs.eventTypes.map((e) => e.type)).toEqual(['Not A Type']);
    expect(refs.facts.map((f) => f.name)).toEqual(['unknown_fact']);
  });
});

describe('requirementsOf', () => {
  const checked = (text: string) => {
    const result = checkExpression(parse(text), {
      scope: 'contact',
      pageGroups: { pricing: ['pricing'] },
      segments: { busy: { scope: 'account', when: 'account.active_users_7d > 3' } },
    });
    if (!result.checked) throw new Error(result.issues[0]!.message);
    return result.checked;
  };

  it('asks for the widest window and only the rollups the expressions read', () => {
    expect(requirementsOf([checked("account.plan == 'pro'")])).toEqual({
      windowDays: 0,
      lastActive: false,
      activeUsers: false,
      site: false,
    });
    expect(
      requirementsOf([
        checked('account.logins_14d < 3'),
        checked("contact.count('x', 2w) > 0 or account.opens_30d > 0"),
      ]),
    ).toEqual({
      windowDays: 30,
      lastActive: false,
      activeUsers: false,
      site: false,
    });
    expect(requirementsOf([checked("contact.visits('pricing', 60d) > 0")])).toMatchObject({
      windowDays: 60,
      site: true,
    });
    expect(requirementsOf([checked('contact.days_since_last_activity > 3')])).toMatchObject({
      windowDays: 0,
      lastActive: true,
    });
    expect(requirementsOf([checked("segment('busy')")])).toMatchObject({ windowDays: 7, activeUsers: true });
  });
});
