/**
 * The checked tree: names resolved against the catalogue, every node typed, custom attributes
 * given the type they are read as, segments inlined. Both engines take this tree: the
 * in-memory evaluator (expression.evaluator.ts) and the SQL compiler (src/metrics/fact-sql.ts),
 * so they cannot disagree on what an expression means. PURE: plain data.
 */
import type { FactDefinition, FactScope } from '../facts/catalogue';
import type { ArithmeticOperator, ComparisonOperator } from './expression.types';

/** A value's type. Dates are calendar dates; durations are lengths of time (minutes). */
export type ValueType = 'number' | 'string' | 'boolean' | 'date' | 'duration' | 'strings';
/** What a custom attribute can be read as. */
export type AttributeType = 'number' | 'string' | 'boolean';
/** Types `==` / `!=` compare; ordering (`<` ...) only numbers, dates and durations. */
export type ComparableType = 'number' | 'string' | 'boolean' | 'date' | 'duration';

export type CheckedNode =
  /** A literal; a duration's value is its length in minutes. */
  | { kind: 'literal'; type: 'number' | 'string' | 'boolean' | 'duration'; value: number | string | boolean }
  /** `null` as an argument of coalesce, typed by the other arguments. */
  | { kind: 'null'; type: ValueType }
  | { kind: 'fact'; type: ValueType; fact: FactDefinition }
  /** A custom attribute read as `type`: a JSON value of another type (or none) reads as null. */
  | { kind: 'attribute'; type: AttributeType; scope: FactScope; key: string }
  /** `<attribute> == null` (absent or JSON null) / `!= null`: the raw value, before any typing. */
  | { kind: 'attribute_null_test'; type: 'boolean'; negated: boolean; scope: FactScope; key: string }
  | { kind: 'null_test'; type: 'boolean'; negated: boolean; operand: CheckedNode }
  | { kind: 'not'; type: 'boolean'; operand: CheckedNode }
  | { kind: 'and' | 'or'; type: 'boolean'; operands: CheckedNode[] }
  | {
      kind: 'compare';
      type: 'boolean';
      operator: ComparisonOperator;
      operandType: ComparableType;
      left: CheckedNode;
      right: CheckedNode;
    }
  /** `x in [...]`: the list holds no null and at least one item. */
  | {
      kind: 'in_list';
      type: 'boolean';
      negated: boolean;
      itemType: AttributeType;
      operand: CheckedNode;
      items: (number | string | boolean)[];
    }
  /** `'x' in contact.roles`. */
  | { kind: 'in_strings'; type: 'boolean'; negated: boolean; needle: CheckedNode; haystack: CheckedNode }
  | { kind: 'arithmetic'; type: 'number'; operator: ArithmeticOperator; left: CheckedNode; right: CheckedNode }
  | { kind: 'negate'; type: 'number'; operand: CheckedNode }
  /** Events of `eventType` of the subject (account or contact) in the last `days` UTC days. */
  | { kind: 'count'; type: 'number'; scope: FactScope; eventType: string; days: number }
  /** Page views on the sections of `group` (FactSettings.pageGroups) in the last `days` UTC days. */
  | { kind: 'visits'; type: 'number'; scope: FactScope; group: string; days: number }
  /** Whole days from the date to today in the account's time zone (`days_until`: the other way). */
  | { kind: 'days_since' | 'days_until'; type: 'number'; operand: CheckedNode }
  | { kind: 'coalesce'; type: ValueType; operands: CheckedNode[] }
  | { kind: 'segment'; type: 'boolean'; name: string; body: CheckedNode }
  | { kind: 'step_activity'; type: 'boolean'; activity: 'opened' | 'clicked'; stepId: string };

export type CheckedNodeKind = CheckedNode['kind'];

export interface CheckedExpression {
  /** The subject the expression is about: account expressions cannot read contact facts. */
  scope: FactScope;
  type: ValueType;
  root: CheckedNode;
  /** The text it was parsed from. */
  source: string;
}
