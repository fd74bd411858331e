/**
 * Resolves and type-checks a parsed expression, collecting every problem at once (unknown
 * facts with a suggestion, type mismatches, scope, unknown segments and page groups,
 * opened()/clicked() outside journey conditions, windows, arity). Without problems it returns
 * the checked tree both engines run (checked-expression.types.ts). PURE.
 */
import { closest } from '../suggest.util';
import { ATTRIBUTE_KEY_PATTERN, FACT_CATALOGUE, type FactScope, findFact } from '../facts/catalogue';
import type { AttributeType, CheckedExpression, CheckedNode, ValueType } from './checked-expression.types';
import { checkCall } from './expression-calls.checker';
import {
  type CheckerHost,
  PLURAL_TYPE_NAMES,
  type ResolvedSegment,
  staticTyped,
  type Typed,
  TYPE_NAMES,
} from './expression-checker.host';
import { findFunction } from './expression.functions';
import type {
  ComparisonExpression,
  Expression,
  ExpressionIssue,
  ExpressionIssueCode,
  ExpressionNode,
  MembershipExpression,
  ListItem,
  NameReference,
  Span,
} from './expression.types';
import { SegmentResolver } from './segment.resolver';

/** A named segment of the catalogue (scenarios/_catalog.yaml). */
export interface SegmentDefinition {
  scope: FactScope;
  /** The segment's condition, as written. */
  when: string;
}

export interface CheckOptions {
  /** Who the expression is about; contact facts are errors in account expressions. */
  scope: FactScope;
  /**
   * `population` (default): audiences, triggers and segments, compiled to SQL over everyone;
   * `enrollment`: journey conditions (steps, goal, exit_when), where opened()/clicked() work.
   */
  context?: 'population' | 'enrollment';
  /** `boolean` (default): the expression is a condition; `value`: any non-boolean type is fine too. */
  expect?: 'boolean' | 'value';
  /** Named segments segment('name') may use. */
  segments?: Readonly<Record<string, SegmentDefinition>>;
  /** Page groups visits('group', ...) may use: group -> site sections. */
  pageGroups?: Readonly<Record<string, readonly string[]>>;
  /** Send step ids opened()/clicked() may name; unset: any id is accepted. */
  stepIds?: ReadonlySet<string> | readonly string[];
}

export interface CheckResult {
  issues: ExpressionIssue[];
  /** Set when there is no issue. */
  checked: CheckedExpression | undefined;
}

export function checkExpression(expression: Expression, options: CheckOptions): CheckResult {
  const resolver = new SegmentResolver(options, (source, root, segmentOptions, segments) =>
    new Checker(source, segmentOptions, segments).run(root),
  );
  return new Checker(expression.source, options, resolver).run(expression.root);
}

class Checker implements CheckerHost {
  private readonly issues: ExpressionIssue[] = [];

  constructor(
    private readonly source: string,
    readonly options: CheckOptions,
    private readonly segments: SegmentResolver,
  ) {}

  run(root: ExpressionNode): CheckResult {
    const typed = this.check(root);
    let checked: CheckedExpression | undefined;
    if (typed) {
      if ((this.options.expect ?? 'boolean') === 'boolean') {
        const node = this.asCondition(typed, 'the expression');
        if (node) checked = { scope: this.options.scope, type: 'boolean', root: node, source: this.source };
      } else if (typed.kind === 'static') {
        checked = { scope: this.options.scope, type: typed.type, root: typed.node, source: this.source };
      } else {
        this.report('type', typed.span, this.unusableMessage(typed, 'as a value'));
      }
    }
    const issues = this.issues.sort((a, b) => a.span.start - b.span.start);
    return { issues, checked: issues.length === 0 ? checked : undefined };
  }

  check(node: ExpressionNode): Typed | undefined {
    switch (node.kind) {
      case 'number':
        return this.literal('number', node.value, node.span);
      case 'string':
        return this.literal('string', node.value, node.span);
      case 'boolean':
        return this.literal('boolean', node.value, node.span);
      case 'duration':
        return this.literal('duration', node.minutes, node.span);
      case 'null':
        return { kind: 'null', span: node.span };
      case 'list':
        return { kind: 'list', span: node.span, items: node.items };
      case 'name':
        return this.checkName(node);
      case 'call':
        return checkCall(this, node);
      case 'unary': {
        if (node.operator === 'not') {
          const operand = this.condition(node.operand, "'not'");
          return operand && this.static('boolean', { kind: 'not', type: 'boolean', operand }, node.span);
        }
        const operand = this.number(node.operand, "'-'");
        return operand && this.static('number', { kind: 'negate', type: 'number', operand }, node.span);
      }
      case 'arithmetic': {
        const left = this.number(node.left, `'${node.operator}'`);
        const right = this.number(node.right, `'${node.operator}'`);
        if (!left || !right) return undefined;
        return this.static(
          'number',
          { kind: 'arithmetic', type: 'number', operator: node.operator, left, right },
          node.span,
        );
      }
      case 'logical': {
        const left = this.condition(node.left, `'${node.operator}'`);
        const right = this.condition(node.right, `'${node.operator}'`);
        if (!left || !right) return undefined;
        const operands = [left, right].flatMap((o) => (o.kind === node.operator ? o.operands : [o]));
        return this.static('boolean', { kind: node.operator, type: 'boolean', operands }, node.span);
      }
      case 'comparison':
        return this.checkComparison(node);
      case 'membership':
        return this.checkMembership(node);
    }
  }

  /* ------------------------------------------------------------ contexts */

  private literal(
    type: 'number' | 'string' | 'boolean' | 'duration',
    value: number | string | boolean,
    span: Span,
  ): Typed {
    return this.static(type, { kind: 'literal', type, value }, span);
  }

  private static(type: ValueType, node: CheckedNode, span: Span): Typed {
    return staticTyped(type, node, span);
  }

  /** Where a condition is needed (and, or, not, the whole expression). */
  private condition(node: ExpressionNode, where: string): CheckedNode | undefined {
    const typed = this.check(node);
    return typed && this.asCondition(typed, where);
  }

  private asCondition(typed: Typed, where: string): CheckedNode | undefined {
    switch (typed.kind) {
      case 'static':
        if (typed.type === 'boolean') return typed.node;
        this.report(
          'type',
          typed.span,
          `${where} needs a condition (true/false), but '${this.text(typed.span)}' is ${TYPE_NAMES[typed.type]}`,
        );
        return undefined;
      case 'dynamic':
        return typed.read('boolean');
      case 'null':
        this.report('type', typed.span, `${where} needs a condition (true/false), not null`);
        return undefined;
      case 'list':
        this.report('type', typed.span, "a list can only follow 'in'");
        return undefined;
    }
  }

  /** Where a number is needed (arithmetic). */
  private number(node: ExpressionNode, operator: string): CheckedNode | undefined {
    const typed = this.check(node);
    if (!typed) return undefined;
    switch (typed.kind) {
      case 'static':
        if (typed.type === 'number') return typed.node;
        this.report(
          'type',
          typed.span,
          `${operator} needs numbers, but '${this.text(typed.span)}' is ${TYPE_NAMES[typed.type]}`,
        );
        return undefined;
      case 'dynamic':
        return typed.read('number');
      case 'null':
        this.report('type', typed.span, `${operator} with null always gives null: use coalesce(x, 0) for a default`);
        return undefined;
      case 'list':
        this.report('type', typed.span, "a list can only follow 'in'");
        return undefined;
    }
  }

  private unusableMessage(typed: Typed, where: string): string {
    switch (typed.kind) {
      case 'dynamic':
        return `the type of '${this.text(typed.span)}' is unknown ${where}: compare it with a value`;
      case 'null':
        return `null cannot be used ${where}`;
      case 'list':
        return "a list can only follow 'in'";
      case 'static':
        return `'${this.text(typed.span)}' cannot be used ${where}`;
    }
  }

  /* -------------------------------------------------------------- names */

  private checkName(node: NameReference): Typed | undefined {
    const [head, second] = node.path;
    if ((head === 'account' || head === 'contact') && second === 'attributes') {
      return this.checkAttribute(node, head);
    }
    const fact = findFact(node.name);
    if (fact) {
      if (!this.inScope(fact.scope, node.name, node.span)) return undefined;
      return this.static(fact.type, { kind: 'fact', type: fact.type, fact }, node.span);
    }
    if (findFunction(node.name)) {
      this.report(
        'unknown-fact',
        node.span,
        `${node.name} is a function: call it, e.g. ${findFunction(node.name)!.example}`,
      );
      return undefined;
    }
    this.report('unknown-fact', node.span, this.unknownFactMessage(node));
    return undefined;
  }

  private unknownFactMessage(node: NameReference): string {
    const candidates = this.factNamesInScope();
    const prefixed = ['account', 'contact'].map((s) => `${s}.${node.name}`).find((n) => candidates.includes(n));
    const suggestion = prefixed ?? closest(node.name, candidates);
    const hint = suggestion ? ` (did you mean '${suggestion}'?)` : '';
    const head = node.path[0];
    if (node.path.length === 1 || (head !== 'account' && head !== 'contact')) {
      return `unknown fact '${node.name}'${hint}: facts start with account.${this.options.scope === 'contact' ? ' or contact.' : ''}`;
    }
    return `unknown fact '${node.name}'${hint}`;
  }

  private factNamesInScope(): string[] {
    return FACT_CATALOGUE.filter((f) => this.options.scope === 'contact' || f.scope === 'account').map((f) => f.name);
  }

  private checkAttribute(node: NameReference, scope: FactScope): Typed | undefined {
    if (node.path.length === 2) {
      this.report('unknown-fact', node.span, `${node.name} needs a key: ${node.name}.<key>`);
      return undefined;
    }
    const key = node.path.slice(2).join('.');
    if (node.path.length > 3 || !ATTRIBUTE_KEY_PATTERN.test(key)) {
      this.report('unknown-fact', node.span, `an attribute key is one name of letters, digits and _ (found '${key}')`);
      return undefined;
    }
    if (!this.inScope(scope, node.name, node.span)) return undefined;
    return this.attribute(scope, key, node.span);
  }

  private attribute(scope: FactScope, key: string, span: Span): Typed {
    return {
      kind: 'dynamic',
      span,
      read: (as) => ({ kind: 'attribute', type: as, scope, key }),
      nullTest: (negated) => ({ kind: 'attribute_null_test', type: 'boolean', negated, scope, key }),
    };
  }

  inScope(scope: FactScope, name: string, span: Span): boolean {
    if (scope === 'contact' && this.options.scope === 'account') {
      this.report('scope', span, `${name} is about a contact, but this expression is about accounts`);
      return false;
    }
    return true;
  }

  /* -------------------------------------------------------- comparisons */

  private checkComparison(node: ComparisonExpression): Typed | undefined {
    const left = this.check(node.left);
    const right = this.check(node.right);
    if (!left || !right) return undefined;
    const op = node.operator;
    const equality = op === '==' || op === '!=';
    for (const side of [left, right]) {
      if (side.kind === 'list') {
        this.report('type', side.span, `a list can only follow 'in': write x in [...] instead of x ${op} [...]`);
        return undefined;
      }
    }
    if (left.kind === 'null' || right.kind === 'null') {
      if (!equality) {
        this.report('type', node.operatorSpan, `'${op}' with null is never true: test with '== null' or '!= null'`);
        return undefined;
      }
      if (left.kind === 'null' && right.kind === 'null') {
        this.report('type', node.span, 'comparing null with null: test a value with == null');
        return undefined;
      }
      const value = left.kind === 'null' ? right : left;
      return this.static('boolean', this.nullTest(value, op === '!='), node.span);
    }
    if (left.kind === 'dynamic' && right.kind === 'dynamic') {
      this.report(
        'type',
        node.span,
        `cannot compare '${this.text(left.span)}' with '${this.text(right.span)}': the types of custom attributes are unknown, compare each with a value`,
      );
      return undefined;
    }
    const resolved = this.resolvePair(left, right, node);
    if (!resolved) return undefined;
    const { type, leftNode, rightNode } = resolved;
    if (type === 'strings') {
      this.report(
        'type',
        node.span,
        `lists cannot be compared with '${op}': test items with 'in', e.g. 'admin' in contact.roles`,
      );
      return undefined;
    }
    if (!equality && type !== 'number' && type !== 'date' && type !== 'duration') {
      this.report(
        'type',
        node.operatorSpan,
        `'${op}' orders numbers, dates and durations, not ${PLURAL_TYPE_NAMES[type]}`,
      );
      return undefined;
    }
    return this.static(
      'boolean',
      { kind: 'compare', type: 'boolean', operator: op, operandType: type, left: leftNode, right: rightNode },
      node.span,
    );
  }

  private nullTest(value: Typed, negated: boolean): CheckedNode {
    if (value.kind === 'dynamic') return value.nullTest(negated);
    if (value.kind === 'static') return { kind: 'null_test', type: 'boolean', negated, operand: value.node };
    throw new Error('null test of a null or a list');
  }

  /** Both sides of a comparison as one type, a custom attribute taking the other side's. */
  private resolvePair(
    left: Typed,
    right: Typed,
    node: ComparisonExpression,
  ): { type: ValueType; leftNode: CheckedNode; rightNode: CheckedNode } | undefined {
    if (left.kind === 'static' && right.kind === 'static') {
      if (left.type !== right.type) {
        this.report(
          'type',
          node.span,
          `cannot compare ${TYPE_NAMES[left.type]} with ${TYPE_NAMES[right.type]}: '${this.text(left.span)}' is ${TYPE_NAMES[left.type]}, '${this.text(right.span)}' is ${TYPE_NAMES[right.type]}`,
        );
        return undefined;
      }
      return { type: left.type, leftNode: left.node, rightNode: right.node };
    }
    const known = left.kind === 'static' ? left : right.kind === 'static' ? right : undefined;
    const dynamic = left.kind === 'dynamic' ? left : right.kind === 'dynamic' ? right : undefined;
    if (!known || !dynamic) throw new Error('resolvePair: unexpected operands');
    if (known.type !== 'number' && known.type !== 'string' && known.type !== 'boolean') {
      this.report(
        'type',
        node.span,
        `cannot compare the custom attribute '${this.text(dynamic.span)}' with ${TYPE_NAMES[known.type]}: attributes are numbers, strings or booleans`,
      );
      return undefined;
    }
    const read = dynamic.read(known.type);
    return left === known
      ? { type: known.type, leftNode: known.node, rightNode: read }
      : { type: known.type, leftNode: read, rightNode: known.node };
  }

  private checkMembership(node: MembershipExpression): Typed | undefined {
    const left = this.check(node.left);
    const right = this.check(node.right);
    if (!left || !right) return undefined;
    const op = node.negated ? "'not in'" : "'in'";
    if (left.kind === 'null') {
      this.report(
        'type',
        left.span,
        `null is never ${node.negated ? 'outside' : 'in'} a list: test it with '== null' or '!= null'`,
      );
      return undefined;
    }
    if (left.kind === 'list') {
      this.report('type', left.span, `${op} needs a single value on its left`);
      return undefined;
    }
    if (right.kind === 'list') return this.checkInList(node, left, right);
    if (right.kind === 'static' && right.type === 'strings') {
      const needle = this.asItem(left, 'string', `the list '${this.text(right.span)}' holds strings`);
      if (!needle) return undefined;
      return this.static(
        'boolean',
        { kind: 'in_strings', type: 'boolean', negated: node.negated, needle, haystack: right.node },
        node.span,
      );
    }
    const found = right.kind === 'static' ? ` ('${this.text(right.span)}' is ${TYPE_NAMES[right.type]})` : '';
    this.report(
      'type',
      right.span,
      `${op} needs a list such as ['a', 'b'] or a list fact such as contact.roles on its right${found}`,
    );
    return undefined;
  }

  private checkInList(
    node: MembershipExpression,
    left: Typed,
    list: { span: Span; items: ListItem[] },
  ): Typed | undefined {
    if (list.items.length === 0) {
      this.report(
        'type',
        list.span,
        `the list is empty: ${node.negated ? "'not in' []" : "'in' []"} is the same for everything`,
      );
      return undefined;
    }
    const values: (number | string | boolean)[] = [];
    let itemType: AttributeType | undefined;
    for (const item of list.items) {
      if (item.kind === 'null') {
        this.report('type', item.span, "a list cannot hold null: test for null with '== null'");
        return undefined;
      }
      if (item.kind === 'duration') {
        this.report('type', item.span, 'a list holds numbers, strings or booleans');
        return undefined;
      }
      if (itemType !== undefined && item.kind !== itemType) {
        this.report(
          'type',
          item.span,
          `list items must be of one type: this is ${TYPE_NAMES[item.kind]}, the first is ${TYPE_NAMES[itemType]}`,
        );
        return undefined;
      }
      itemType = item.kind;
      values.push(item.value);
    }
    const type = itemType!;
    const operand = this.asItem(left, type, `the list holds ${type === 'boolean' ? 'true/false' : `${type}s`}`);
    if (!operand) return undefined;
    return this.static(
      'boolean',
      { kind: 'in_list', type: 'boolean', negated: node.negated, itemType: type, operand, items: [...new Set(values)] },
      node.span,
    );
  }

  private asItem(value: Typed, type: AttributeType, why: string): CheckedNode | undefined {
    if (value.kind === 'dynamic') return value.read(type);
    if (value.kind === 'static' && value.type === type) return value.node;
    const found = value.kind === 'static' ? TYPE_NAMES[value.type] : value.kind;
    this.report('type', value.span, `'${this.text(value.span)}' is ${found}, but ${why}`);
    return undefined;
  }

  /* ------------------------------------------------------------ helpers */

  text(span: Span): string {
    const text = this.source.slice(span.start, span.end);
    return text.length > 48 ? `${text.slice(0, 45)}...` : text;
  }

  resolveSegment(name: string, definition: SegmentDefinition): ResolvedSegment {
    return this.segments.resolve(name, definition);
  }

  report(code: ExpressionIssueCode, span: Span, message: string): void {
    this.issues.push({ code, message, span });
  }
}
