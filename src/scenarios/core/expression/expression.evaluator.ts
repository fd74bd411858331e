/**
 * Evaluates a checked expression for one subject from its FactContext, in memory, with the
 * semantics the SQL compiler (src/metrics/fact-sql.ts) gives the same tree: any comparison
 * with null is false, null where a condition is needed is false, arithmetic with null is null,
 * division and remainder by zero are null, doubles overflow as in PostgreSQL. PURE: no I/O;
 * time comes from `ctx.now`.
 */
import type { JsonValue } from '../../../common/json';
import { isoDateOf } from '../facts/fact-calendar';
import type { FactContext } from '../facts/fact-context';
import {
  accountFact,
  accountToday,
  attributeValue,
  contactFact,
  countEvents,
  countVisits,
  type FactValue,
} from '../facts/fact-values';
import type { AttributeType, CheckedExpression, CheckedNode } from './checked-expression.types';
import type { ArithmeticOperator, ComparisonOperator } from './expression.types';
import { float8Add, float8Divide, float8Multiply, float8Remainder, float8Subtract } from './float8.util';

/** What an expression gives: dates as `YYYY-MM-DD`, durations in minutes, `strings` as arrays. */
export type ExpressionValue = number | string | boolean | null | readonly string[];

/**
 * The value of the expression for the subject of `ctx` (a contact subject has `ctx.contact`).
 * A condition (type boolean) is always true or false. Throws NumberRangeError where PostgreSQL
 * would fail the query (a double overflowing), and an Error for opened()/clicked() without
 * an enrollment or for an unknown time zone.
 */
export function evaluate(expression: CheckedExpression, ctx: FactContext): ExpressionValue {
  if (expression.scope === 'contact' && !ctx.contact) throw new Error('a contact expression needs ctx.contact');
  if (expression.type === 'boolean') return isTrue(evaluateNode(expression.root, ctx));
  const value = evaluateNode(expression.root, ctx);
  return expression.type === 'date' && typeof value === 'number' ? isoDateOf(value) : value;
}

/** The expression as a condition: true or false (null counts as false). */
export function evaluateCondition(expression: CheckedExpression, ctx: FactContext): boolean {
  return evaluate(expression, ctx) === true;
}

const isTrue = (value: FactValue): boolean => value === true;

function readAttribute(raw: JsonValue | undefined, as: AttributeType): FactValue {
  switch (as) {
    case 'number':
      return typeof raw === 'number' ? raw : null;
    case 'string':
      return typeof raw === 'string' ? raw : null;
    case 'boolean':
      return typeof raw === 'boolean' ? raw : null;
  }
}

function evaluateNode(node: CheckedNode, ctx: FactContext): FactValue {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'null':
      return null;
    case 'fact':
      return node.fact.scope === 'account' ? accountFact(node.fact.key, ctx) : contactFact(node.fact.key, ctx);
    case 'attribute':
      return readAttribute(attributeValue(attributesOf(node.scope, ctx), node.key), node.type);
    case 'attribute_null_test': {
      const raw = attributeValue(attributesOf(node.scope, ctx), node.key);
      const isNull = raw === undefined || raw === null;
      return node.negated ? !isNull : isNull;
    }
    case 'null_test': {
      const isNull = evaluateNode(node.operand, ctx) === null;
      return node.negated ? !isNull : isNull;
    }
    case 'not':
      return !isTrue(evaluateNode(node.operand, ctx));
    case 'and':
      return node.operands.every((o) => isTrue(evaluateNode(o, ctx)));
    case 'or':
      return node.operands.some((o) => isTrue(evaluateNode(o, ctx)));
    case 'compare':
      return compare(node.operator, evaluateNode(node.left, ctx), evaluateNode(node.right, ctx));
    case 'in_list': {
      const value = evaluateNode(node.operand, ctx);
      if (value === null) return false;
      const found = node.items.includes(value as number | string | boolean);
      return node.negated ? !found : found;
    }
    case 'in_strings': {
      const needle = evaluateNode(node.needle, ctx);
      const haystack = evaluateNode(node.haystack, ctx);
      if (typeof needle !== 'string' || !Array.isArray(haystack)) return false;
      const found = (haystack as readonly string[]).includes(needle);
      return node.negated ? !found : found;
    }
    case 'arithmetic':
      return arithmetic(node.operator, evaluateNode(node.left, ctx), evaluateNode(node.right, ctx));
    case 'negate': {
      const value = evaluateNode(node.operand, ctx);
      return typeof value === 'number' ? -value : null;
    }
    case 'count': {
      const daily = node.scope === 'account' ? ctx.account.daily : contactOf(ctx).daily;
      return countEvents(daily, node.eventType, node.days, ctx.now);
    }
    case 'visits': {
      const site = node.scope === 'account' ? ctx.account.site : contactOf(ctx).site;
      const sections = Object.hasOwn(ctx.settings.pageGroups, node.group)
        ? ctx.settings.pageGroups[node.group]
        : undefined;
      if (!sections) throw new Error(`page group '${node.group}' is not in the settings`);
      return countVisits(site, sections, node.days, ctx.now);
    }
    case 'days_since':
    case 'days_until': {
      const date = evaluateNode(node.operand, ctx);
      if (typeof date !== 'number') return null;
      const today = accountToday(ctx);
      return node.kind === 'days_since' ? today - date : date - today;
    }
    case 'coalesce':
      for (const operand of node.operands) {
        const value = evaluateNode(operand, ctx);
        if (value !== null) return value;
      }
      return null;
    case 'segment':
      return isTrue(evaluateNode(node.body, ctx));
    case 'step_activity': {
      if (!ctx.enrollment) throw new Error(`${node.activity}() needs an enrollment`);
      return node.activity === 'opened' ? ctx.enrollment.opened(node.stepId) : ctx.enrollment.clicked(node.stepId);
    }
  }
}

function attributesOf(scope: 'account' | 'contact', ctx: FactContext) {
  return scope === 'account' ? ctx.account.attributes : contactOf(ctx).attributes;
}

function contactOf(ctx: FactContext) {
  if (!ctx.contact) throw new Error('a contact fact read without a contact');
  return ctx.contact;
}

function compare(operator: ComparisonOperator, left: FactValue, right: FactValue): boolean {
  if (left === null || right === null) return false;
  // Operands are of one type (the checker saw to it): numbers, strings, booleans, epoch days.
  const l = left as number | string | boolean;
  const r = right as number | string | boolean;
  switch (operator) {
    case '==':
      return l === r;
    case '!=':
      return l !== r;
    case '<':
      return l < r;
    case '<=':
      return l <= r;
    case '>':
      return l > r;
    case '>=':
      return l >= r;
  }
}

function arithmetic(operator: ArithmeticOperator, left: FactValue, right: FactValue): number | null {
  if (typeof left !== 'number' || typeof right !== 'number') return null;
  switch (operator) {
    case '+':
      return float8Add(left, right);
    case '-':
      return float8Subtract(left, right);
    case '*':
      return float8Multiply(left, right);
    case '/':
      return right === 0 ? null : float8Divide(left, right);
    case '%':
      return right === 0 ? null : float8Remainder(left, right);
  }
}
