/**
 * The expression language of scenario YAML (the language itself is documented in
 * expression.parser.ts). Parse, check, then evaluate in memory (one subject) or compile to
 * SQL (the population: src/metrics/fact-sql.ts). PURE.
 */
import { type CheckOptions, checkExpression } from './expression.checker';
import type { CheckedExpression } from './checked-expression.types';
import { parseExpression } from './expression.parser';
import { type ExpressionReferences, referencesOf } from './expression.references';
import type { Expression, ExpressionIssue } from './expression.types';

export type {
  AttributeType,
  CheckedExpression,
  CheckedNode,
  CheckedNodeKind,
  ComparableType,
  ValueType,
} from './checked-expression.types';
export { type CheckOptions, type CheckResult, checkExpression, type SegmentDefinition } from './expression.checker';
export { evaluate, evaluateCondition, type ExpressionValue } from './expression.evaluator';
export { FUNCTION_CATALOGUE, type FunctionDefinition, MAX_WINDOW_DAYS } from './expression.functions';
export { MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH, parseExpression, type ParseResult } from './expression.parser';
export { formatPosition, positionAt, type TextPosition } from './expression-position.util';
export {
  type ExpressionReferences,
  type FactRequirements,
  referencesOf,
  requirementsOf,
} from './expression.references';
export type * from './expression.types';
export { NumberRangeError } from './float8.util';
export { FACT_CATALOGUE, type FactDefinition, type FactScope, type FactType, findFact } from '../facts/catalogue';

export interface AnalyzedExpression {
  /** Syntax problems (at most one), else every problem the checker found. */
  issues: ExpressionIssue[];
  /** Set when the text parses. */
  expression: Expression | undefined;
  /** Set when there is no issue: what the engines run. */
  checked: CheckedExpression | undefined;
  /** Empty when the text does not parse. */
  references: ExpressionReferences;
}

/** Parse + check + references in one call: what a validator needs for one expression text. */
export function analyzeExpression(text: string, options: CheckOptions): AnalyzedExpression {
  const parsed = parseExpression(text);
  if (!parsed.ok) {
    const references = { facts: [], eventTypes: [], segments: [], pageGroups: [], stepIds: [] };
    return { issues: parsed.issues, expression: undefined, checked: undefined, references };
  }
  const { issues, checked } = checkExpression(parsed.expression, options);
  return { issues, expression: parsed.expression, checked, references: referencesOf(parsed.expression) };
}
