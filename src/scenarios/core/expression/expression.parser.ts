/**
 * The expression language of scenario YAML: one small, safe language for conditions such as
 * `account.logins_14d < 3 and account.days_since_start >= 7`. Text is parsed by hand-written
 * recursive descent into a typed tree with spans; nothing is ever run as code. The checker
 * (expression.checker.ts) resolves names and types; the same checked tree is evaluated in
 * memory for one subject (expression.evaluator.ts) and compiled to SQL over the whole
 * population (src/metrics/fact-sql.ts), and both give the same answers.
 *
 * **Literals**
 * - numbers: `3`, `2.5`, `1_000` (underscores between digits); no exponent, no leading `.`
 * - strings: `'text'` or `"text"`, with the escapes `\\`, `\'`, `\"`, `\n`, `\r`, `\t` and
 *   `\uXXXX`; a string stays on one line and cannot hold `\u0000`
 * - `true`, `false`, `null`
 * - durations: a whole number immediately followed by a unit: `30m` (minutes), `12h` (hours),
 *   `14d` (days), `2w` (weeks)
 * - lists of literals, only on the right of `in`: `['admin', 'operator']`, `[1, 2, 3]`
 *
 * **Facts**: dotted names from the catalogue (src/scenarios/core/facts/catalogue.ts), such as
 * `account.logins_14d` or `contact.roles`; custom attributes are `account.attributes.<key>` and
 * `contact.attributes.<key>` (key: letters, digits, `_`). No spaces around the dots. Contact
 * facts exist only in contact-scoped expressions.
 *
 * **Operators**, by precedence from low to high (all binary ones left-associative):
 * 1. `or`
 * 2. `and`
 * 3. `not` (prefix)
 * 4. comparisons `==` `!=` `<` `<=` `>` `>=`, and membership `in` / `not in`; not chainable
 *    (`a < b < c` is an error: combine with `and`)
 * 5. `+` `-`
 * 6. `*` `/` `%`
 * 7. unary `-`
 *
 * Parentheses group. Keywords are lowercase; `&&`, `||`, `!`, `=`, `<>`, `===` are rejected with
 * the operator to use instead.
 *
 * **Functions** (names may be dotted):
 * - `count(type, window)` = `account.count(type, window)`: the account's events of a type
 *   within a window; `contact.count(type, window)`: the contact's
 * - `visits(group, window)` = `account.visits(...)`, `contact.visits(...)`: page views within
 *   the window on the site sections of a page group (catalogue `page_groups`), through the
 *   site visitors linked to the contact (for an account: to any of its contacts)
 * - `days_since(date)`, `days_until(date)`: whole days between today in the account's time
 *   zone and the date (negative when the date is on the other side of today)
 * - `coalesce(a, b, ...)`: the first argument that is not null
 * - `segment('name')`: a named segment of the catalogue, inlined; cycles are an error
 * - `opened('step')`, `clicked('step')`: a human opened / clicked the message sent by that
 *   step of the enrollment; only in journey conditions (steps, goal, exit_when)
 *
 * Event types and page groups are string literals; windows are duration literals of whole
 * days (`14d`, `2w`, `48h`), from 1 to 400 days. A window of `Nd` covers the N UTC days ending
 * with today's UTC day (the rollups are per UTC day).
 *
 * **Types**: number, string, boolean, date (a calendar date), duration, strings (a list fact
 * such as `contact.roles`), null. Custom attributes are dynamic: they take the type of the
 * other side of a comparison (number, string or boolean), numbers in arithmetic, and boolean
 * where a condition is needed; a value of another JSON type reads as null. Comparing two
 * attributes with each other is an error (their types are unknown).
 *
 * **Null and logic** (two-valued, identical in both engines): any comparison involving null is
 * false, `!=` and `in` / `not in` included; `x == null` and `x != null` are the null tests.
 * `and`, `or` and `not` work on booleans, and a null where a condition is needed counts as
 * false. Arithmetic with null gives null; division or remainder by zero gives null. Numbers
 * are IEEE doubles in both engines; `a % b` is `a - b * trunc(a / b)` (the sign of `a`). A
 * result beyond the double range is an error in both. Ordering comparisons work on numbers,
 * dates and durations only; string equality is exact (byte-wise, case-sensitive).
 *
 * PURE: no I/O. Problems are reported as issues with spans; a syntax error stops the parse
 * (one issue), the checker reports every other problem at once.
 */
import { formatPosition } from './expression-position.util';
import { ExpressionSyntaxError, KEYWORDS, type Token, tokenize } from './expression.lexer';
import type {
  ArithmeticOperator,
  ComparisonOperator,
  Expression,
  ExpressionIssue,
  ExpressionNode,
  ListItem,
  Span,
} from './expression.types';

export type ParseResult = { ok: true; expression: Expression } | { ok: false; issues: ExpressionIssue[] };

/** Deeper trees are refused: they are unreadable, and deep SQL hits PostgreSQL's stack limit. */
export const MAX_EXPRESSION_DEPTH = 64;
/** Longer texts are refused. */
export const MAX_EXPRESSION_LENGTH = 10_000;

const UNIT_MINUTES = { m: 1, h: 60, d: 1440, w: 10_080 } as const;

/** Parses an expression text; never throws for bad input. */
export function parseExpression(source: string): ParseResult {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    return syntaxIssue(`expression too long (more than ${MAX_EXPRESSION_LENGTH} characters)`, {
      start: MAX_EXPRESSION_LENGTH,
      end: source.length,
    });
  }
  try {
    const parser = new Parser(source, tokenize(source));
    const root = parser.parseAll();
    return { ok: true, expression: { source, root } };
  } catch (error: unknown) {
    if (error instanceof ExpressionSyntaxError) return syntaxIssue(error.message, error.span);
    throw error;
  }
}

function syntaxIssue(message: string, span: Span): ParseResult {
  return { ok: false, issues: [{ code: 'syntax', message, span }] };
}

const COMPARISON_OPERATORS: readonly string[] = ['==', '!=', '<', '<=', '>', '>='];

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  parseAll(): ExpressionNode {
    if (this.peek().kind === 'end') this.fail('expected an expression, found nothing', this.peek().span);
    const root = this.parseOr();
    const next = this.peek();
    if (next.kind !== 'end') this.fail(this.trailingMessage(next), next.span);
    return root;
  }

  private parseOr(): ExpressionNode {
    let left = this.parseAnd();
    for (let t = this.peek(); t.kind === 'keyword' && t.keyword === 'or'; t = this.peek()) {
      this.advance();
      const right = this.parseAnd();
      left = this.nest({ kind: 'logical', operator: 'or', left, right, operatorSpan: t.span, span: join(left, right) });
    }
    return left;
  }

  private parseAnd(): ExpressionNode {
    let left = this.parseNot();
    for (let t = this.peek(); t.kind === 'keyword' && t.keyword === 'and'; t = this.peek()) {
      this.advance();
      const right = this.parseNot();
      left = this.nest({
        kind: 'logical',
        operator: 'and',
        left,
        right,
        operatorSpan: t.span,
        span: join(left, right),
      });
    }
    return left;
  }

  private parseNot(): ExpressionNode {
    const t = this.peek();
    if (t.kind === 'keyword' && t.keyword === 'not') {
      this.advance();
      const operand = this.enter(() => this.parseNot());
      return {
        kind: 'unary',
        operator: 'not',
        operand,
        operatorSpan: t.span,
        span: { start: t.span.start, end: operand.span.end },
      };
    }
    return this.parseComparison();
  }

  private parseComparison(): ExpressionNode {
    const left = this.parseAdditive();
    const node = this.parseComparisonTail(left);
    if (node === left) return left;
    const next = this.peek();
    if (this.comparisonAhead()) {
      this.fail(
        `comparisons cannot be chained: combine them with 'and' (a < b and b < c)`,
        this.operatorSpanAhead(next),
      );
    }
    return node;
  }

  /** The comparison or membership test after `left`, or `left` itself when there is none. */
  private parseComparisonTail(left: ExpressionNode): ExpressionNode {
    const t = this.peek();
    if (t.kind === 'operator' && COMPARISON_OPERATORS.includes(t.operator)) {
      this.advance();
      const right = this.parseOperand(t.operator);
      return this.nest({
        kind: 'comparison',
        operator: t.operator as ComparisonOperator,
        left,
        right,
        operatorSpan: t.span,
        span: join(left, right),
      });
    }
    if (t.kind === 'keyword' && t.keyword === 'in') {
      this.advance();
      const right = this.parseOperand('in');
      return this.nest({
        kind: 'membership',
        negated: false,
        left,
        right,
        operatorSpan: t.span,
        span: join(left, right),
      });
    }
    if (t.kind === 'keyword' && t.keyword === 'not') {
      const after = this.peek(1);
      if (!(after.kind === 'keyword' && after.keyword === 'in')) {
        this.fail(`expected 'in' after 'not' here (x not in [...]); to negate a condition put 'not' before it`, t.span);
      }
      this.advance();
      this.advance();
      const operatorSpan = { start: t.span.start, end: after.span.end };
      const right = this.parseOperand('not in');
      return this.nest({ kind: 'membership', negated: true, left, right, operatorSpan, span: join(left, right) });
    }
    return left;
  }

  private comparisonAhead(): boolean {
    const t = this.peek();
    if (t.kind === 'operator') return COMPARISON_OPERATORS.includes(t.operator);
    return t.kind === 'keyword' && (t.keyword === 'in' || (t.keyword === 'not' && this.peekIsIn(1)));
  }

  private peekIsIn(offset: number): boolean {
    const t = this.peek(offset);
    return t.kind === 'keyword' && t.keyword === 'in';
  }

  private operatorSpanAhead(t: Token): Span {
    return t.kind === 'keyword' && t.keyword === 'not' ? { start: t.span.start, end: this.peek(1).span.end } : t.span;
  }

  /** The right-hand side of an operator: a value must follow. */
  private parseOperand(operator: string): ExpressionNode {
    const t = this.peek();
    if (!this.startsValue(t)) this.fail(`expected a value after '${operator}', found ${this.describe(t)}`, t.span);
    return this.parseAdditive();
  }

  private parseAdditive(): ExpressionNode {
    let left = this.parseMultiplicative();
    for (let t = this.peek(); t.kind === 'operator' && (t.operator === '+' || t.operator === '-'); t = this.peek()) {
      this.advance();
      const right = this.parseOperandOf(t.operator, () => this.parseMultiplicative());
      left = this.arithmetic(t.operator, left, right, t.span);
    }
    return left;
  }

  private parseMultiplicative(): ExpressionNode {
    let left = this.parseUnary();
    for (
      let t = this.peek();
      t.kind === 'operator' && (t.operator === '*' || t.operator === '/' || t.operator === '%');
      t = this.peek()
    ) {
      this.advance();
      const right = this.parseOperandOf(t.operator, () => this.parseUnary());
      left = this.arithmetic(t.operator, left, right, t.span);
    }
    return left;
  }

  private parseOperandOf(operator: string, parse: () => ExpressionNode): ExpressionNode {
    const t = this.peek();
    if (!this.startsValue(t)) this.fail(`expected a value after '${operator}', found ${this.describe(t)}`, t.span);
    return parse();
  }

  private arithmetic(operator: ArithmeticOperator, left: ExpressionNode, right: ExpressionNode, operatorSpan: Span) {
    return this.nest({ kind: 'arithmetic', operator, left, right, operatorSpan, span: join(left, right) });
  }

  private parseUnary(): ExpressionNode {
    const t = this.peek();
    if (t.kind === 'operator' && t.operator === '-') {
      this.advance();
      const next = this.peek();
      if (!this.startsValue(next)) this.fail(`expected a value after '-', found ${this.describe(next)}`, next.span);
      const operand = this.enter(() => this.parseUnary());
      const span = { start: t.span.start, end: operand.span.end };
      // A negated number literal is a literal (lists hold negative numbers).
      if (operand.kind === 'number') {
        return { kind: 'number', value: -operand.value, span };
      }
      return { kind: 'unary', operator: '-', operand, operatorSpan: t.span, span };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): ExpressionNode {
    const t = this.advance();
    switch (t.kind) {
      case 'number':
        return { kind: 'number', value: t.value, span: t.span };
      case 'string':
        return { kind: 'string', value: t.value, span: t.span };
      case 'duration':
        return {
          kind: 'duration',
          amount: t.amount,
          unit: t.unit,
          minutes: t.amount * UNIT_MINUTES[t.unit],
          span: t.span,
        };
      case 'keyword':
        if (t.keyword === 'true' || t.keyword === 'false')
          return { kind: 'boolean', value: t.keyword === 'true', span: t.span };
        if (t.keyword === 'null') return { kind: 'null', span: t.span };
        return this.fail(`expected a value, found '${t.keyword}'`, t.span);
      case 'name':
        return this.parseNameOrCall(t.path, t.span);
      case 'punctuation':
        if (t.punctuation === '(') return this.parseGroup(t.span);
        if (t.punctuation === '[') return this.parseList(t.span);
        return this.fail(`expected a value, found '${t.punctuation}'`, t.span);
      case 'operator':
        return this.fail(`expected a value, found '${t.operator}'`, t.span);
      case 'end':
        return this.fail('expected a value, found the end of the expression', t.span);
    }
  }

  private parseGroup(open: Span): ExpressionNode {
    const inner = this.enter(() => {
      const t = this.peek();
      if (!this.startsValue(t)) this.fail(`expected a value after '(', found ${this.describe(t)}`, t.span);
      return this.parseOr();
    });
    this.expectClosing(')', '(', open);
    return inner;
  }

  private parseList(open: Span): ExpressionNode {
    const items: ListItem[] = [];
    if (!this.isPunctuation(this.peek(), ']')) {
      for (;;) {
        items.push(this.parseListItem());
        if (!this.isPunctuation(this.peek(), ',')) break;
        this.advance();
      }
    }
    const close = this.expectClosing(']', '[', open);
    return { kind: 'list', items, span: { start: open.start, end: close.end } };
  }

  private parseListItem(): ListItem {
    const start = this.peek();
    const item = this.parseUnary();
    switch (item.kind) {
      case 'number':
      case 'string':
      case 'boolean':
      case 'null':
      case 'duration':
        return item;
      default:
        return this.fail(
          `list items must be literals (numbers, strings, true, false), found '${this.text(item.span)}'`,
          { start: start.span.start, end: item.span.end },
        );
    }
  }

  private parseNameOrCall(path: string[], span: Span): ExpressionNode {
    const name = path.join('.');
    if (!this.isPunctuation(this.peek(), '(')) return { kind: 'name', path, name, span };
    const open = this.advance().span;
    const args: ExpressionNode[] = [];
    this.enter(() => {
      if (this.isPunctuation(this.peek(), ')')) return;
      for (;;) {
        const t = this.peek();
        if (!this.startsValue(t)) {
          const where = args.length === 0 ? `'${name}('` : "','";
          this.fail(`expected an argument after ${where}, found ${this.describe(t)}`, t.span);
        }
        args.push(this.parseOr());
        if (!this.isPunctuation(this.peek(), ',')) break;
        this.advance();
      }
    });
    const close = this.expectClosing(')', '(', open, `the arguments of ${name}()`);
    return { kind: 'call', callee: name, calleeSpan: span, args, span: { start: span.start, end: close.end } };
  }

  private expectClosing(closing: ')' | ']', opening: string, open: Span, what?: string): Span {
    const t = this.peek();
    if (this.isPunctuation(t, closing)) return this.advance().span;
    const subject = what ?? `'${opening}'`;
    let found = this.describe(t);
    if (t.kind !== 'end' && closing === ')' && this.startsValue(t)) found += " (missing ',' or an operator?)";
    return this.fail(
      `expected '${closing}' to close ${subject} at ${formatPosition(this.source, open.start)}, found ${found}`,
      t.span,
    );
  }

  private trailingMessage(t: Token): string {
    if (t.kind === 'punctuation' && (t.punctuation === ')' || t.punctuation === ']')) {
      return `unexpected '${t.punctuation}': nothing to close`;
    }
    if (
      t.kind === 'name' &&
      t.path.length === 1 &&
      (KEYWORDS as readonly string[]).includes(t.path[0]!.toLowerCase())
    ) {
      return `unexpected '${t.path[0]!}': keywords are lowercase, write '${t.path[0]!.toLowerCase()}'`;
    }
    if (t.kind === 'punctuation' && t.punctuation === '(') return `unexpected '(': only function names can be called`;
    if (this.startsValue(t))
      return `unexpected ${this.describe(t)} after a complete expression (missing 'and', 'or' or an operator?)`;
    return `unexpected ${this.describe(t)}`;
  }

  private startsValue(t: Token): boolean {
    switch (t.kind) {
      case 'number':
      case 'string':
      case 'duration':
      case 'name':
        return true;
      case 'keyword':
        return t.keyword === 'true' || t.keyword === 'false' || t.keyword === 'null' || t.keyword === 'not';
      case 'punctuation':
        return t.punctuation === '(' || t.punctuation === '[';
      case 'operator':
        return t.operator === '-';
      case 'end':
        return false;
    }
  }

  private describe(t: Token): string {
    return t.kind === 'end' ? 'the end of the expression' : `'${this.text(t.span)}'`;
  }

  private text(span: Span): string {
    const text = this.source.slice(span.start, span.end);
    return text.length > 40 ? `${text.slice(0, 37)}...` : text;
  }

  private isPunctuation(t: Token, punctuation: string): boolean {
    return t.kind === 'punctuation' && t.punctuation === punctuation;
  }

  /** Guards recursion through parentheses, calls, `not` and unary minus. */
  private enter<T>(parse: () => T): T {
    this.depth++;
    if (this.depth > MAX_EXPRESSION_DEPTH) {
      this.fail(`expression nested too deeply (more than ${MAX_EXPRESSION_DEPTH} levels)`, this.peek().span);
    }
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  /** Guards the depth of operator chains (`a + b + c ...` nests to the left). */
  private nest<T extends ExpressionNode>(node: T): T {
    if (depthOf(node) > MAX_EXPRESSION_DEPTH) {
      this.fail(`expression nested too deeply (more than ${MAX_EXPRESSION_DEPTH} levels)`, node.span);
    }
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }

  private advance(): Token {
    const t = this.peek();
    if (this.index < this.tokens.length - 1) this.index++;
    return t;
  }

  private fail(message: string, span: Span): never {
    throw new ExpressionSyntaxError(message, span);
  }
}

const depths = new WeakMap<ExpressionNode, number>();

/** Tree depth, memoised per node (operator chains are built one level at a time). */
function depthOf(node: ExpressionNode): number {
  const known = depths.get(node);
  if (known !== undefined) return known;
  let depth: number;
  switch (node.kind) {
    case 'arithmetic':
    case 'logical':
    case 'comparison':
    case 'membership':
      depth = 1 + Math.max(depthOf(node.left), depthOf(node.right));
      break;
    case 'unary':
      depth = 1 + depthOf(node.operand);
      break;
    case 'call':
      depth = 1 + Math.max(0, ...node.args.map(depthOf));
      break;
    case 'number':
    case 'string':
    case 'boolean':
    case 'null':
    case 'duration':
    case 'list':
    case 'name':
      depth = 1;
      break;
  }
  depths.set(node, depth);
  return depth;
}

function join(left: ExpressionNode, right: ExpressionNode): Span {
  return { start: left.span.start, end: right.span.end };
}
