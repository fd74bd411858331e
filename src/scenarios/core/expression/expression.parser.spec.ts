import { formatPosition, positionAt } from './expression-position.util';
import { MAX_EXPRESSION_DEPTH, parseExpression } from './expression.parser';
import type { ExpressionNode } from './expression.types';

function parse(text: string): ExpressionNode {
  const result = parseExpression(text);
  if (!result.ok) throw new Error(`${text}: ${result.issues[0]!.message}`);
  return result.expression.root;
}

/** The tree as compact text: every operator node in parentheses. */
function show(node: ExpressionNode): string {
  switch (node.kind) {
    case 'number':
    case 'boolean':
      return String(node.value);
    case 'string':
      return JSON.stringify(node.value);
    case 'null':
      return 'null';
    case 'duration':
      return `${node.amount}${node.unit}=${node.minutes}m`;
    case 'list':
      return `[${node.items.map(show).join(', ')}]`;
    case 'name':
      return node.name;
    case 'call':
      return `${node.callee}(${node.args.map(show).join(', ')})`;
    case 'unary':
      return `(${node.operator} ${show(node.operand)})`;
    case 'arithmetic':
    case 'logical':
    case 'comparison':
      return `(${show(node.left)} ${node.operator} ${show(node.right)})`;
    case 'membership':
      return `(${show(node.left)} ${node.negated ? 'not in' : 'in'} ${show(node.right)})`;
  }
}

/** The one syntax error, with its position as `line:col`. */
function error(text: string): string {
  const result = parseExpression(text);
  if (result.ok) throw new Error(`${text}: parsed`);
  const issue = result.issues[0]!;
  expect(result.issues).toHaveLength(1);
  expect(issue.code).toBe('syntax');
  return `${formatPosition(text, issue.span.start)} ${issue.message}`;
}

describe('parseExpression: literals', () => {
  it.each([
    ['3', '3'],
    ['2.5', '2.5'],
    ['1_000', '1000'],
    ['1_000.250_5', '1000.2505'],
    ['007', '7'],
    ['-3', '-3'],
    ['- 3', '-3'],
    ['--3', '3'],
    ["'it\\'s'", '"it\'s"'],
    ['"say \\"hi\\""', '"say \\"hi\\""'],
    ["'a\\\\b\\n\\t\\r'", '"a\\\\b\\n\\t\\r"'],
    ["'caf\\u00e9'", '"café"'],
    ["'日本語'", '"日本語"'],
    ["''", '""'],
    ['true', 'true'],
    ['false', 'false'],
    ['null', 'null'],
    ['30m', '30m=30m'],
    ['12h', '12h=720m'],
    ['14d', '14d=20160m'],
    ['2w', '2w=20160m'],
    ['1_000m', '1000m=1000m'],
    ["['admin', 'operator']", '["admin", "operator"]'],
    ['[1, -2, 2.5]', '[1, -2, 2.5]'],
    ['[]', '[]'],
    ['[true, null, 3d]', '[true, null, 3d=4320m]'],
  ])('%s', (text, tree) => {
    expect(show(parse(text))).toBe(tree);
  });
});

describe('parseExpression: names, calls, operators and precedence', () => {
  it.each([
    ['account.logins_14d', 'account.logins_14d'],
    ['contact.attributes.2fa', 'contact.attributes.2fa'],
    ['account.attributes.plan_2026', 'account.attributes.plan_2026'],
    ["count('login', 14d)", 'count("login", 14d=20160m)'],
    ["contact.count ( 'login' , 2w )", 'contact.count("login", 2w=20160m)'],
    ['coalesce(account.arr, 0)', 'coalesce(account.arr, 0)'],
    ['f()', 'f()'],
    ['a or b and c', '(a or (b and c))'],
    ['a and b or c', '((a and b) or c)'],
    ['a or b or c', '((a or b) or c)'],
    ['not a and b', '((not a) and b)'],
    ['not not a', '(not (not a))'],
    ['not a == b', '(not (a == b))'],
    ['a == b and c != d', '((a == b) and (c != d))'],
    ['a + b * c', '(a + (b * c))'],
    ['a - b - c', '((a - b) - c)'],
    ['a / b % c', '((a / b) % c)'],
    ['(a + b) * c', '((a + b) * c)'],
    ['-a * b', '((- a) * b)'],
    ['a * -b', '(a * (- b))'],
    ['a + 1 < b * 2', '((a + 1) < (b * 2))'],
    ['a <= b', '(a <= b)'],
    ['a >= b', '(a >= b)'],
    ['a > b', '(a > b)'],
    ["x in ['a', 'b']", '(x in ["a", "b"])'],
    ["x not in ['a']", '(x not in ["a"])'],
    ["'admin' in contact.roles", '("admin" in contact.roles)'],
    ['not x in [1]', '(not (x in [1]))'],
    ['a + 1 in [2]', '((a + 1) in [2])'],
    ['a in [1] and b', '((a in [1]) and b)'],
    ['((a))', 'a'],
    ["segment('at-risk') and not opened('tips')", '(segment("at-risk") and (not opened("tips")))'],
  ])('%s', (text, tree) => {
    expect(show(parse(text))).toBe(tree);
  });

  it('reads expressions over several lines (YAML block scalars)', () => {
    expect(show(parse('account.logins_14d < 3\n  and account.days_since_start >= 7\n'))).toBe(
      '((account.logins_14d < 3) and (account.days_since_start >= 7))',
    );
  });

  it('gives every node its span in the text', () => {
    const text = "count('login', 14d) >= 3 and not account.has_owner";
    const root = parse(text);
    if (root.kind !== 'logical') throw new Error('expected and');
    expect(root.span).toEqual({ start: 0, end: text.length });
    expect(text.slice(root.operatorSpan.start, root.operatorSpan.end)).toBe('and');
    const comparison = root.left;
    if (comparison.kind !== 'comparison') throw new Error('expected >=');
    expect(text.slice(comparison.span.start, comparison.span.end)).toBe("count('login', 14d) >= 3");
    const call = comparison.left;
    if (call.kind !== 'call') throw new Error('expected a call');
    expect(text.slice(call.calleeSpan.start, call.calleeSpan.end)).toBe('count');
    expect(call.args.map((a) => text.slice(a.span.start, a.span.end))).toEqual(["'login'", '14d']);
    const not = root.right;
    expect(not.kind === 'unary' && text.slice(not.operand.span.start, not.operand.span.end)).toBe('account.has_owner');
    const membership = parse("x not in ['a']");
    expect(membership.kind === 'membership' && membership.operatorSpan).toEqual({ start: 2, end: 8 });
  });
});

describe('parseExpression: errors, with positions', () => {
  it.each([
    ['', '1:1 expected an expression, found nothing'],
    ['   ', '1:4 expected an expression, found nothing'],
    ['(a', "1:3 expected ')' to close '(' at 1:1, found the end of the expression"],
    ['a and (b or (c)', "1:16 expected ')' to close '(' at 1:7, found the end of the expression"],
    ['(a b)', "1:4 expected ')' to close '(' at 1:1, found 'b' (missing ',' or an operator?)"],
    [
      "count('login' 14d)",
      "1:15 expected ')' to close the arguments of count() at 1:6, found '14d' (missing ',' or an operator?)",
    ],
    ['count(', "1:7 expected an argument after 'count(', found the end of the expression"],
    ["count('a',)", "1:11 expected an argument after ',', found ')'"],
    ["x in ['a', 'b'", "1:15 expected ']' to close '[' at 1:6, found the end of the expression"],
    ['x in [a]', "1:7 list items must be literals (numbers, strings, true, false), found 'a'"],
    ['x in [1 + 2]', "1:9 expected ']' to close '[' at 1:6, found '+'"],
    ['a)', "1:2 unexpected ')': nothing to close"],
    ['a b', "1:3 unexpected 'b' after a complete expression (missing 'and', 'or' or an operator?)"],
    ['a AND b', "1:3 unexpected 'AND': keywords are lowercase, write 'and'"],
    ['a Or b', "1:3 unexpected 'Or': keywords are lowercase, write 'or'"],
    ['(a)(b)', "1:4 unexpected '(': only function names can be called"],
    ['a && b', "1:3 unknown operator '&&': use 'and'"],
    ['a || b', "1:3 unknown operator '||': use 'or'"],
    ['!a', "1:1 unknown operator '!': use 'not'"],
    ['a = 1', "1:3 unknown operator '=': use '==' to compare"],
    ['a === 1', "1:3 unknown operator '===': use '=='"],
    ['a !== 1', "1:3 unknown operator '!==': use '!='"],
    ['a <> 1', "1:3 unknown operator '<>': use '!='"],
    ['a => 1', "1:3 unknown operator '=>': use '>='"],
    ['a =< 1', "1:3 unknown operator '=<': use '<='"],
    ['a ** 2', "1:3 unknown operator '**': multiply with '*'"],
    ['a & b', "1:3 unknown operator '&': use 'and'"],
    ['a | b', "1:3 unknown operator '|': use 'or'"],
    ['a < b < c', "1:7 comparisons cannot be chained: combine them with 'and' (a < b and b < c)"],
    ['a == b in [1]', "1:8 comparisons cannot be chained: combine them with 'and' (a < b and b < c)"],
    ['a in [1] not in [2]', "1:10 comparisons cannot be chained: combine them with 'and' (a < b and b < c)"],
    ['a not b', "1:3 expected 'in' after 'not' here (x not in [...]); to negate a condition put 'not' before it"],
    ['a ==', "1:5 expected a value after '==', found the end of the expression"],
    ['a == )', "1:6 expected a value after '==', found ')'"],
    ['a in', "1:5 expected a value after 'in', found the end of the expression"],
    ['a not in', "1:9 expected a value after 'not in', found the end of the expression"],
    ['1 +', "1:4 expected a value after '+', found the end of the expression"],
    ['1 * and', "1:5 expected a value after '*', found 'and'"],
    ['-', "1:2 expected a value after '-', found the end of the expression"],
    ['()', "1:2 expected a value after '(', found ')'"],
    ['and', "1:1 expected a value, found 'and'"],
    [',', "1:1 expected a value, found ','"],
    ['<', "1:1 expected a value, found '<'"],
    ['a or', '1:5 expected a value, found the end of the expression'],
    ['.5', "1:1 a number starts with a digit: write '0.5', not '.5'"],
    ['a . b', "1:3 unexpected '.': a name has no space around its dots (account.logins_14d)"],
    ['account.', "1:1 expected a name after 'account.'"],
    ['account..x', "1:1 expected a name after 'account.'"],
    ['2.', "1:1 expected digits after '2.'"],
    ['1.x', "1:1 expected digits after '1.'"],
    ['14days', "1:1 invalid number '14days': numbers are written 3, 2.5 or 1_000, durations 30m, 12h, 14d or 2w"],
    ['1e5', "1:1 invalid number '1e5': numbers are written 3, 2.5 or 1_000, durations 30m, 12h, 14d or 2w"],
    ['1__0', "1:1 invalid number '1__0': numbers are written 3, 2.5 or 1_000, durations 30m, 12h, 14d or 2w"],
    ['1_', "1:1 invalid number '1_': numbers are written 3, 2.5 or 1_000, durations 30m, 12h, 14d or 2w"],
    ['2.5d', "1:1 a duration is a whole number: write '2.5d' in a smaller unit"],
    ["'abc", "1:1 unterminated string: expected ' to close it"],
    ['"abc\n"', '1:1 unterminated string: expected " to close it'],
    ["'a\\q'", "1:3 unknown escape '\\q': use \\\\, \\', \\\", \\n, \\r, \\t or \\uXXXX"],
    ["'a\\u12'", '1:3 expected 4 hex digits after \\u (e.g. \\u00e9)'],
    ["'\\u0000'", '1:2 a string cannot hold the character \\u0000'],
    ["'\\ud800'", '1:2 \\u escapes of surrogate halves are not allowed: write the character'],
    ['a @ b', "1:3 unexpected character '@'"],
    ['a # b', "1:3 unexpected character '#'"],
    ['a\n  and b c', "2:9 unexpected 'c' after a complete expression (missing 'and', 'or' or an operator?)"],
    ["'日本' 語", "1:6 unexpected character '語'"],
  ])('%j', (text, message) => {
    expect(error(text)).toBe(message);
  });

  it('refuses numbers beyond the double range', () => {
    expect(error('9'.repeat(400))).toBe('1:1 number too large');
  });

  it('refuses trees deeper than the limit, from parentheses and from operator chains', () => {
    expect(error(`${'('.repeat(MAX_EXPRESSION_DEPTH + 1)}a${')'.repeat(MAX_EXPRESSION_DEPTH + 1)}`)).toMatch(
      /expression nested too deeply \(more than 64 levels\)$/,
    );
    expect(error(Array.from({ length: MAX_EXPRESSION_DEPTH + 2 }, () => 'a').join(' + '))).toMatch(/nested too deeply/);
    expect(error(`${'not '.repeat(MAX_EXPRESSION_DEPTH + 1)}a`)).toMatch(/nested too deeply/);
    expect(() => parse(Array.from({ length: 40 }, () => 'a').join(' + '))).not.toThrow();
  });

  it('refuses overly long texts', () => {
    expect(error(`a == '${'x'.repeat(10_000)}'`)).toMatch(/^1:10001 expression too long/);
  });
});

describe('positionAt', () => {
  it('counts lines and characters (not UTF-16 units), 1-based', () => {
    expect(positionAt('abc', 0)).toEqual({ line: 1, column: 1 });
    expect(positionAt('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
    expect(positionAt('𝟘x', 2)).toEqual({ line: 1, column: 2 });
    expect(positionAt('ab', 99)).toEqual({ line: 1, column: 3 });
  });
});
