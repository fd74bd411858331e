import type { CheckedNode } from './checked-expression.types';
import { type CheckOptions, checkExpression, type SegmentDefinition } from './expression.checker';
import { formatPosition } from './expression-position.util';
import { parseExpression } from './expression.parser';
import type { ExpressionIssueCode } from './expression.types';

const SEGMENTS: Record<string, SegmentDefinition> = {
  'at-risk': { scope: 'account', when: "account.lifecycle != 'onboarding' and account.logins_14d < 3" },
  'active-champions': { scope: 'contact', when: "'champion' in contact.roles and contact.logins_30d >= 1" },
  loop: { scope: 'account', when: "segment('loop-2')" },
  'loop-2': { scope: 'account', when: "segment('loop') or account.has_owner" },
  self: { scope: 'account', when: "segment('self')" },
  broken: { scope: 'account', when: 'account.logins_14d <' },
  'wrong-type': { scope: 'account', when: 'account.logins_14d' },
  'uses-at-risk': { scope: 'account', when: "segment('at-risk') and account.has_owner" },
};
const PAGE_GROUPS = { pricing: ['pricing', 'plans'], docs: ['docs'] };

function check(text: string, options: Partial<CheckOptions> = {}) {
  const parsed = parseExpression(text);
  if (!parsed.ok) throw new Error(`${text}: ${parsed.issues[0]!.message}`);
  return checkExpression(parsed.expression, {
    scope: 'contact',
    segments: SEGMENTS,
    pageGroups: PAGE_GROUPS,
    ...options,
  });
}

/** Every issue as `line:col code: message`. */
function issues(text: string, options: Partial<CheckOptions> = {}): string[] {
  return check(text, options).issues.map((i) => `${formatPosition(text, i.span.start)} ${i.code}: ${i.message}`);
}

function checked(text: string, options: Partial<CheckOptions> = {}): CheckedNode {
  const result = check(text, options);
  if (!result.checked) throw new Error(`${text}: ${result.issues.map((i) => i.message).join('; ')}`);
  return result.checked.root;
}

describe('checkExpression: valid expressions', () => {
  it.each([
    'account.logins_14d < 3 and account.days_since_start >= 7',
    "account.tier == 'tech-touch' and account.lifecycle in ['onboarding', 'adoption']",
    "'admin' in contact.roles or 'operator' not in contact.roles",
    "count('report_exported', 30d) >= 1 and contact.count('login', 2w) == 0",
    "visits('pricing', 14d) > 0 or contact.visits('docs', 48h) > 0 or account.visits('docs', 400d) > 0",
    'days_since(account.contract_start) >= 7 and days_until(account.renewal_date) <= 60',
    'coalesce(account.arr, 0) < 100_000',
    'account.renewal_date > account.contract_start',
    'account.last_active_on == null or account.days_since_last_activity > 30',
    "segment('at-risk') and segment('active-champions')",
    "segment('uses-at-risk')",
    'account.attributes.seats > 10 and contact.attributes.vip',
    "account.attributes.plan == 'pro' and account.attributes.trial == true",
    "account.attributes.region in ['kanto', 'kansai']",
    "coalesce(contact.attributes.region, account.attributes.region) == 'kanto'",
    "coalesce(account.attributes.region, 'none') != 'kanto'",
    'account.attributes.seats * 2 + 1 > account.contacts',
    'account.attributes.x != null',
    '14d > 1w and 30m < 1h',
    'not account.has_owner',
    'account.has_owner == false',
    '(account.arr / 12) % 1000 >= 0',
  ])('%s', (text) => {
    expect(issues(text)).toEqual([]);
  });

  it('gives the checked tree its types and resolves facts from the catalogue', () => {
    const root = checked('account.logins_14d < 3');
    expect(root).toMatchObject({
      kind: 'compare',
      operator: '<',
      operandType: 'number',
      left: { kind: 'fact', type: 'number', fact: { name: 'account.logins_14d', scope: 'account', key: 'logins_14d' } },
      right: { kind: 'literal', type: 'number', value: 3 },
    });
  });

  it('types a custom attribute from the other side of a comparison, or as a condition, or as a number in arithmetic', () => {
    expect(checked("account.attributes.plan == 'pro'")).toMatchObject({
      operandType: 'string',
      left: { kind: 'attribute', type: 'string', scope: 'account', key: 'plan' },
    });
    expect(checked('3 < contact.attributes.seats')).toMatchObject({ right: { kind: 'attribute', type: 'number' } });
    expect(checked('account.attributes.vip')).toEqual({
      kind: 'attribute',
      type: 'boolean',
      scope: 'account',
      key: 'vip',
    });
    expect(checked('-account.attributes.n > 0')).toMatchObject({
      left: { kind: 'negate', operand: { type: 'number' } },
    });
    expect(checked('account.attributes.n in [1, 2]')).toMatchObject({
      kind: 'in_list',
      itemType: 'number',
      operand: { type: 'number' },
    });
    expect(checked('account.attributes.r in contact.roles')).toMatchObject({
      kind: 'in_strings',
      needle: { type: 'string' },
    });
  });

  it('tests the raw attribute for null (absent or JSON null), also through coalesce', () => {
    expect(checked('account.attributes.x == null')).toEqual({
      kind: 'attribute_null_test',
      type: 'boolean',
      negated: false,
      scope: 'account',
      key: 'x',
    });
    expect(checked('null != coalesce(account.attributes.x, contact.attributes.y)')).toMatchObject({
      kind: 'or',
      operands: [
        { kind: 'attribute_null_test', negated: true, key: 'x' },
        { kind: 'attribute_null_test', negated: true, key: 'y' },
      ],
    });
    expect(checked('account.arr == null')).toMatchObject({
      kind: 'null_test',
      negated: false,
      operand: { kind: 'fact' },
    });
  });

  it('flattens and/or chains, keeps list items unique, and inlines segments', () => {
    expect(checked('account.has_owner and account.has_owner and not account.has_owner')).toMatchObject({
      kind: 'and',
      operands: [{ kind: 'fact' }, { kind: 'fact' }, { kind: 'not' }],
    });
    expect(checked("account.plan in ['a', 'a', 'b']")).toMatchObject({ items: ['a', 'b'] });
    expect(checked("segment('uses-at-risk')")).toMatchObject({
      kind: 'segment',
      name: 'uses-at-risk',
      body: { kind: 'and', operands: [{ kind: 'segment', name: 'at-risk' }, { kind: 'fact' }] },
    });
  });

  it('turns windows into days and types coalesce by its arguments', () => {
    expect(checked("count('login', 2w) > 0")).toMatchObject({
      left: { kind: 'count', scope: 'account', eventType: 'login', days: 14 },
    });
    expect(checked("contact.visits('pricing', 48h) > 0")).toMatchObject({
      left: { kind: 'visits', scope: 'contact', group: 'pricing', days: 2 },
    });
    expect(checked('coalesce(account.attributes.n, null, 1) > 0')).toMatchObject({
      left: {
        kind: 'coalesce',
        type: 'number',
        operands: [{ kind: 'attribute', type: 'number' }, { kind: 'null', type: 'number' }, { kind: 'literal' }],
      },
    });
  });

  it('checks value expressions when asked for a value', () => {
    const result = check("count('login', 7d) / 7", { expect: 'value' });
    expect(result.issues).toEqual([]);
    expect(result.checked?.type).toBe('number');
    expect(check('account.renewal_date', { expect: 'value' }).checked?.type).toBe('date');
    expect(issues('account.attributes.x', { expect: 'value' })).toEqual([
      "1:1 type: the type of 'account.attributes.x' is unknown as a value: compare it with a value",
    ]);
  });
});

describe('checkExpression: problems, every one at once', () => {
  it.each<[string, string[], Partial<CheckOptions>?]>([
    [
      'account.login_14d < 3',
      ["1:1 unknown-fact: unknown fact 'account.login_14d' (did you mean 'account.logins_14d'?)"],
    ],
    [
      'logins_14d < 3',
      [
        "1:1 unknown-fact: unknown fact 'logins_14d' (did you mean 'account.logins_14d'?): facts start with account. or contact.",
      ],
    ],
    [
      'logins_14d < 3',
      ["1:1 unknown-fact: unknown fact 'logins_14d' (did you mean 'account.logins_14d'?): facts start with account."],
      { scope: 'account' },
    ],
    ['contact.rolez', ["1:1 unknown-fact: unknown fact 'contact.rolez' (did you mean 'contact.roles'?)"]],
    ['user.plan == 1', ["1:1 unknown-fact: unknown fact 'user.plan': facts start with account. or contact."]],
    [
      'account.count > 1',
      ["1:1 unknown-fact: account.count is a function: call it, e.g. account.count('report_exported', 30d) >= 1"],
    ],
    ['account.attributes == 1', ['1:1 unknown-fact: account.attributes needs a key: account.attributes.<key>']],
    [
      'account.attributes.a.b == 1',
      ["1:1 unknown-fact: an attribute key is one name of letters, digits and _ (found 'a.b')"],
    ],
    [
      'contact.logins_7d > 1',
      ['1:1 scope: contact.logins_7d is about a contact, but this expression is about accounts'],
      { scope: 'account' },
    ],
    [
      'contact.attributes.x == 1',
      ['1:1 scope: contact.attributes.x is about a contact, but this expression is about accounts'],
      { scope: 'account' },
    ],
    [
      "contact.count('login', 7d) > 1",
      ['1:1 scope: contact.count() is about a contact, but this expression is about accounts'],
      { scope: 'account' },
    ],
    ['cont(1) > 1', ["1:1 unknown-function: unknown function 'cont' (did you mean 'count'?)"]],
    [
      'account.logins_7d() > 1',
      ['1:1 unknown-function: account.logins_7d is a fact, not a function: remove the parentheses'],
    ],
    ["count('login') > 1", ['1:1 arity: count() takes 2 arguments (event type, window), found 1']],
    ['days_since() > 1', ['1:1 arity: days_since() takes 1 argument (a date), found 0']],
    ['coalesce(account.arr) > 1', ['1:1 arity: coalesce() takes 2 or more arguments, found 1']],
    ["segment('a', 'b')", ['1:1 arity: segment() takes 1 argument (a segment name), found 2']],
    ['count(login, 7d) > 1', ["1:7 argument: the event type of count() is a quoted string: count('login')"]],
    [
      "count('Login', 7d) > 1",
      ["1:7 argument: 'Login' is not an event type: a-z first, then a-z, 0-9, _ or . (e.g. 'login')"],
    ],
    ["count('login', 7) > 1", ['1:16 window: the window of count() is a duration in days or weeks, e.g. 14d or 2w']],
    ["count('login', 36h) > 1", ['1:16 window: a window is whole days (e.g. 14d, 2w, 48h), not 36h']],
    ["count('login', 90m) > 1", ['1:16 window: a window is whole days (e.g. 14d, 2w, 48h), not 90m']],
    ["count('login', 0d) > 1", ['1:16 window: a window is 1 to 400 days, found 0d']],
    ["count('login', 401d) > 1", ['1:16 window: a window is 1 to 400 days, found 401d']],
    ["count('login', 58w) > 1", ['1:16 window: a window is 1 to 400 days, found 58w']],
    [
      "visits('pricng', 7d) > 0",
      [
        "1:8 unknown-page-group: unknown page group 'pricng' (did you mean 'pricing'?): define it under page_groups: in scenarios/_catalog.yaml",
      ],
    ],
    [
      "visits('pricing', 7d) > 0",
      ["1:8 unknown-page-group: unknown page group 'pricing': define it under page_groups: in scenarios/_catalog.yaml"],
      { pageGroups: {} },
    ],
    [
      "visits('constructor', 7d) > 0",
      [
        "1:8 unknown-page-group: unknown page group 'constructor': define it under page_groups: in scenarios/_catalog.yaml",
      ],
    ],
    [
      "segment('at-rsk')",
      [
        "1:9 unknown-segment: unknown segment 'at-rsk' (did you mean 'at-risk'?): define it under segments: in scenarios/_catalog.yaml",
      ],
    ],
    [
      "segment('__proto__')",
      ["1:9 unknown-segment: unknown segment '__proto__': define it under segments: in scenarios/_catalog.yaml"],
    ],
    ['segment(at_risk)', ["1:9 argument: the name of segment() is a quoted string: segment('at_risk')"]],
    [
      "segment('active-champions')",
      ["1:9 scope: segment 'active-champions' is about contacts, but this expression is about accounts"],
      { scope: 'account' },
    ],
    ["segment('loop')", ['1:9 segment-cycle: segment cycle: loop -> loop-2 -> loop']],
    ["segment('self')", ['1:9 segment-cycle: segment cycle: self -> self']],
    [
      "segment('broken')",
      ["1:9 segment-invalid: segment 'broken' has errors: expected a value after '<', found the end of the expression"],
    ],
    [
      "segment('wrong-type')",
      [
        "1:9 segment-invalid: segment 'wrong-type' has errors: the expression needs a condition (true/false), but 'account.logins_14d' is a number",
      ],
    ],
    [
      "opened('tips')",
      [
        '1:1 step-context: opened() only works in journey conditions (steps, goal, exit_when), not in audiences, triggers or segments',
      ],
    ],
    [
      "clicked('tips')",
      [
        '1:1 step-context: clicked() only works in journey conditions (steps, goal, exit_when), not in audiences, triggers or segments',
      ],
    ],
    [
      "opened('tipz')",
      ["1:8 unknown-step: unknown step 'tipz' (did you mean 'tips'?): opened() names a send step of this scenario"],
      { context: 'enrollment', stepIds: ['tips', 'case-study'] },
    ],
    [
      'opened(tips)',
      ["1:8 argument: the step id of opened() is a quoted string: opened('tips')"],
      { context: 'enrollment' },
    ],
    [
      'account.logins_7d',
      ["1:1 type: the expression needs a condition (true/false), but 'account.logins_7d' is a number"],
    ],
    [
      'account.logins_7d and account.has_owner',
      ["1:1 type: 'and' needs a condition (true/false), but 'account.logins_7d' is a number"],
    ],
    ['not account.plan', ["1:5 type: 'not' needs a condition (true/false), but 'account.plan' is a string"]],
    ['null', ['1:1 type: the expression needs a condition (true/false), not null']],
    ['account.plan + 1 > 2', ["1:1 type: '+' needs numbers, but 'account.plan' is a string"]],
    ['account.arr + null > 2', ["1:15 type: '+' with null always gives null: use coalesce(x, 0) for a default"]],
    ['-account.renewal_date > 2', ["1:2 type: '-' needs numbers, but 'account.renewal_date' is a date"]],
    [
      'account.tier == 3',
      ["1:1 type: cannot compare a string with a number: 'account.tier' is a string, '3' is a number"],
    ],
    [
      'account.renewal_date > 3',
      ["1:1 type: cannot compare a date with a number: 'account.renewal_date' is a date, '3' is a number"],
    ],
    ["account.name < 'm'", ["1:14 type: '<' orders numbers, dates and durations, not strings"]],
    ['account.has_owner >= true', ["1:19 type: '>=' orders numbers, dates and durations, not conditions"]],
    [
      "contact.roles == 'admin'",
      [
        "1:1 type: cannot compare a list of strings with a string: 'contact.roles' is a list of strings, ''admin'' is a string",
      ],
    ],
    [
      'contact.roles == contact.roles',
      ["1:1 type: lists cannot be compared with '==': test items with 'in', e.g. 'admin' in contact.roles"],
    ],
    ['account.arr < null', ["1:13 type: '<' with null is never true: test with '== null' or '!= null'"]],
    ['null == null', ['1:1 type: comparing null with null: test a value with == null']],
    ["account.plan == ['a']", ["1:17 type: a list can only follow 'in': write x in [...] instead of x == [...]"]],
    [
      'account.attributes.a == account.attributes.b',
      [
        "1:1 type: cannot compare 'account.attributes.a' with 'account.attributes.b': the types of custom attributes are unknown, compare each with a value",
      ],
    ],
    [
      'account.attributes.a > account.renewal_date',
      [
        "1:1 type: cannot compare the custom attribute 'account.attributes.a' with a date: attributes are numbers, strings or booleans",
      ],
    ],
    ["account.attributes.a < 'x'", ["1:22 type: '<' orders numbers, dates and durations, not strings"]],
    ['account.plan in []', ["1:17 type: the list is empty: 'in' [] is the same for everything"]],
    ['account.plan in [null]', ["1:18 type: a list cannot hold null: test for null with '== null'"]],
    [
      "account.plan in ['a', 1]",
      ['1:23 type: list items must be of one type: this is a number, the first is a string'],
    ],
    ['account.arr in [1d]', ['1:17 type: a list holds numbers, strings or booleans']],
    ["account.arr in ['1']", ["1:1 type: 'account.arr' is a number, but the list holds strings"]],
    ["null in ['a']", ["1:1 type: null is never in a list: test it with '== null' or '!= null'"]],
    [
      "'a' in account.plan",
      [
        "1:8 type: 'in' needs a list such as ['a', 'b'] or a list fact such as contact.roles on its right ('account.plan' is a string)",
      ],
    ],
    ['1 in contact.roles', ["1:1 type: '1' is a number, but the list 'contact.roles' holds strings"]],
    [
      'days_since(account.arr) > 1',
      ["1:12 type: days_since() needs a date such as account.renewal_date, but 'account.arr' is a number"],
    ],
    [
      'days_until(account.attributes.d) > 1',
      [
        "1:12 type: days_until() needs a date such as account.renewal_date, but 'account.attributes.d' is a custom attribute (attributes are numbers, strings or booleans)",
      ],
    ],
    [
      "coalesce(account.arr, 'x') == 1",
      ["1:23 type: coalesce() arguments must be of one type: 'account.arr' is a number, ''x'' is a string"],
    ],
    ['coalesce(null, null) == 1', ['1:1 type: coalesce() of nothing but null is always null']],
    [
      'coalesce(account.attributes.d, account.renewal_date) == account.renewal_date',
      ['1:1 type: coalesce() cannot mix custom attributes with a date'],
    ],
    // A default, so Jest does not take a third parameter for a `done` callback on two-item rows.
  ])('%s', (text, expected, options = {}) => {
    expect(issues(text, options)).toEqual(expected);
  });

  it('reports every problem of an expression, not only the first', () => {
    expect(
      issues("account.login_7d > 1 and contact.rolez and visits('nope', 3h) > 0 and opened('x')", { scope: 'account' }),
    ).toEqual([
      "1:1 unknown-fact: unknown fact 'account.login_7d' (did you mean 'account.logins_7d'?)",
      "1:26 unknown-fact: unknown fact 'contact.rolez'",
      "1:51 unknown-page-group: unknown page group 'nope': define it under page_groups: in scenarios/_catalog.yaml",
      '1:59 window: a window is whole days (e.g. 14d, 2w, 48h), not 3h',
      '1:71 step-context: opened() only works in journey conditions (steps, goal, exit_when), not in audiences, triggers or segments',
    ]);
  });

  it('returns no tree when there are problems', () => {
    const result = check('account.logins_7d');
    expect(result.issues.map((i) => i.code satisfies ExpressionIssueCode)).toEqual(['type']);
    expect(result.checked).toBeUndefined();
  });

  it('accepts opened()/clicked() in journey conditions, with or without a list of step ids', () => {
    expect(
      checked("opened('tips') and not clicked('tips')", { context: 'enrollment', stepIds: new Set(['tips']) }),
    ).toMatchObject({
      kind: 'and',
      operands: [{ kind: 'step_activity', activity: 'opened', stepId: 'tips' }, { kind: 'not' }],
    });
    expect(issues("clicked('anything')", { context: 'enrollment' })).toEqual([]);
  });
});
