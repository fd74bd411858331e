/**
 * What the parts of the checker share: the typed intermediate form of a subexpression and
 * the services the function-call checks use from the checker. PURE.
 */
import type { FactScope } from '../facts/catalogue';
import type { AttributeType, CheckedNode, ValueType } from './checked-expression.types';
import type { CheckOptions, SegmentDefinition } from './expression.checker';
import type { ExpressionIssueCode, ExpressionNode, ListItem, Span } from './expression.types';

/** What a subexpression turned out to be, before the context it sits in is known. */
export type Typed =
  | { kind: 'static'; type: ValueType; node: CheckedNode; span: Span }
  /** A custom attribute (or a coalesce of them): typed by where it is used. */
  | {
      kind: 'dynamic';
      span: Span;
      read: (as: AttributeType) => CheckedNode;
      nullTest: (negated: boolean) => CheckedNode;
    }
  | { kind: 'null'; span: Span }
  | { kind: 'list'; span: Span; items: ListItem[] };

export const TYPE_NAMES: Record<ValueType, string> = {
  number: 'a number',
  string: 'a string',
  boolean: 'a condition (true/false)',
  date: 'a date',
  duration: 'a duration',
  strings: 'a list of strings',
};

export const PLURAL_TYPE_NAMES: Record<ValueType, string> = {
  number: 'numbers',
  string: 'strings',
  boolean: 'conditions',
  date: 'dates',
  duration: 'durations',
  strings: 'lists',
};

export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A segment inlined, or why it cannot be. */
export type ResolvedSegment = { node: CheckedNode } | { error: string; code: ExpressionIssueCode };

/** What the function-call checks need from the checker. */
export interface CheckerHost {
  readonly options: CheckOptions;
  check(node: ExpressionNode): Typed | undefined;
  report(code: ExpressionIssueCode, span: Span, message: string): void;
  /** The text of a span, shortened for messages. */
  text(span: Span): string;
  /** Reports and returns false for a contact reference in an account expression. */
  inScope(scope: FactScope, name: string, span: Span): boolean;
  resolveSegment(name: string, definition: SegmentDefinition): ResolvedSegment;
}

export function staticTyped(type: ValueType, node: CheckedNode, span: Span): Typed {
  return { kind: 'static', type, node, span };
}
