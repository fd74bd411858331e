/**
 * The syntax tree of an expression as written (see expression.parser.ts for the language).
 * Every node carries its span: offsets into the expression text (JavaScript string indices,
 * end exclusive), so the YAML loader can turn any problem into `file:line:col`.
 * PURE: plain data.
 */

export interface Span {
  start: number;
  end: number;
}

export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';
export type ComparisonOperator = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type DurationUnit = 'm' | 'h' | 'd' | 'w';

export interface NumberLiteral {
  kind: 'number';
  value: number;
  span: Span;
}

export interface StringLiteral {
  kind: 'string';
  value: string;
  span: Span;
}

export interface BooleanLiteral {
  kind: 'boolean';
  value: boolean;
  span: Span;
}

export interface NullLiteral {
  kind: 'null';
  span: Span;
}

/** `30m`, `12h`, `14d`, `2w`. */
export interface DurationLiteral {
  kind: 'duration';
  amount: number;
  unit: DurationUnit;
  /** The length in minutes. */
  minutes: number;
  span: Span;
}

export type ListItem = NumberLiteral | StringLiteral | BooleanLiteral | NullLiteral | DurationLiteral;

/** `['admin', 'operator']`: literals only. */
export interface ListLiteral {
  kind: 'list';
  items: ListItem[];
  span: Span;
}

/** A dotted name: `account.logins_14d`, `contact.attributes.plan`. */
export interface NameReference {
  kind: 'name';
  /** The parts between the dots. */
  path: string[];
  /** The parts joined with dots, as written. */
  name: string;
  span: Span;
}

/** `count('login', 14d)`, `contact.visits('pricing', 30d)`. */
export interface CallExpression {
  kind: 'call';
  /** The function name as written, dots included. */
  callee: string;
  calleeSpan: Span;
  args: ExpressionNode[];
  span: Span;
}

export interface UnaryExpression {
  kind: 'unary';
  operator: 'not' | '-';
  operand: ExpressionNode;
  operatorSpan: Span;
  span: Span;
}

export interface ArithmeticExpression {
  kind: 'arithmetic';
  operator: ArithmeticOperator;
  left: ExpressionNode;
  right: ExpressionNode;
  operatorSpan: Span;
  span: Span;
}

export interface LogicalExpression {
  kind: 'logical';
  operator: 'and' | 'or';
  left: ExpressionNode;
  right: ExpressionNode;
  operatorSpan: Span;
  span: Span;
}

export interface ComparisonExpression {
  kind: 'comparison';
  operator: ComparisonOperator;
  left: ExpressionNode;
  right: ExpressionNode;
  operatorSpan: Span;
  span: Span;
}

/** `x in [...]`, `x not in [...]`, `'admin' in contact.roles`. */
export interface MembershipExpression {
  kind: 'membership';
  negated: boolean;
  left: ExpressionNode;
  right: ExpressionNode;
  operatorSpan: Span;
  span: Span;
}

export type ExpressionNode =
  | NumberLiteral
  | StringLiteral
  | BooleanLiteral
  | NullLiteral
  | DurationLiteral
  | ListLiteral
  | NameReference
  | CallExpression
  | UnaryExpression
  | ArithmeticExpression
  | LogicalExpression
  | ComparisonExpression
  | MembershipExpression;

export type ExpressionNodeKind = ExpressionNode['kind'];

/** A parsed expression: the tree and the text its spans point into. */
export interface Expression {
  source: string;
  root: ExpressionNode;
}

/** What kind of problem an issue is (stable, for tools and tests). */
export type ExpressionIssueCode =
  | 'syntax'
  | 'unknown-fact'
  | 'unknown-function'
  | 'arity'
  | 'argument'
  | 'type'
  | 'value'
  | 'scope'
  | 'window'
  | 'unknown-segment'
  | 'segment-cycle'
  | 'segment-invalid'
  | 'unknown-page-group'
  | 'step-context'
  | 'unknown-step';

export interface ExpressionIssue {
  code: ExpressionIssueCode;
  message: string;
  /** Where in the expression text; a segment's own problems point at the `segment(...)` call. */
  span: Span;
}
