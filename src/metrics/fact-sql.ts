/**
 * Compiles checked expressions to SQL over the whole population, with the semantics the
 * in-memory evaluator gives the same tree (src/scenarios/core/expression/expression.evaluator.ts):
 * a comparison with NULL is false (`... IS TRUE`), arithmetic with NULL is NULL, division and
 * remainder by zero are NULL (`NULLIF`), numbers are float8. Every value is a bound parameter;
 * identifiers come only from this code and the catalogue.
 */
import type { CheckedExpression, CheckedNode, ValueType } from '../scenarios/core/expression';
import type { FactScope } from '../scenarios/core/facts/catalogue';
import type { FactSettings } from '../scenarios/core/facts/fact-context';
import {
  accountFactSql,
  accountTodaySql,
  contactFactSql,
  countSql,
  type FactSqlContext,
  type SqlFragment,
  visitsSql,
} from './fact-sql-facts';
import { SqlParameters } from './fact-sql-parameters';

export type { SqlFragment } from './fact-sql-facts';
export { SqlParameters } from './fact-sql-parameters';

/** An expression that cannot run over the population (opened()/clicked() belong to one enrollment). */
export class ExpressionCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionCompileError';
  }
}

export interface FactSqlOptions {
  now: Date;
  settings: FactSettings;
}

export interface PopulationQueryOptions extends FactSqlOptions {
  /** Who is selected; default: the scope of the expressions (account expressions also work in a contact query). */
  scope?: FactScope;
  /** Only these subjects (account or contact ids). */
  subjectIds?: readonly string[];
}

export interface CompiledQuery {
  sql: string;
  params: unknown[];
}

/**
 * The subjects for which every expression holds. Account scope: rows `{ account_id }` from
 * `accounts a`; contact scope: rows `{ contact_id, account_id }` from `contacts c JOIN accounts a`.
 */
export function buildPopulationQuery(
  expressions: CheckedExpression | readonly CheckedExpression[],
  options: PopulationQueryOptions,
): CompiledQuery {
  const list: readonly CheckedExpression[] = Array.isArray(expressions)
    ? expressions
    : [expressions as CheckedExpression];
  const scope = options.scope ?? (list.some((e) => e.scope === 'contact') ? 'contact' : 'account');
  const params = new SqlParameters();
  const conditions = list.map((expression) => {
    if (expression.scope === 'contact' && scope === 'account') {
      throw new ExpressionCompileError('a contact expression cannot select accounts');
    }
    return compileCondition(expression, options, params);
  });
  if (options.subjectIds !== undefined) {
    conditions.push(`${scope === 'account' ? 'a' : 'c'}.id = ANY(${params.add([...options.subjectIds], 'uuid[]')})`);
  }
  const where = conditions.length === 0 ? 'true' : conditions.join('\n  AND ');
  const sql =
    scope === 'account'
      ? `SELECT a.id AS account_id FROM accounts a\nWHERE ${where}`
      : `SELECT c.id AS contact_id, c.account_id FROM contacts c JOIN accounts a ON a.id = c.account_id\nWHERE ${where}`;
  return { sql, params: params.values };
}

/** A condition as a SQL boolean that is never NULL, over `a` (and `c` for contact expressions). */
export function compileCondition(
  expression: CheckedExpression,
  options: FactSqlOptions,
  params: SqlParameters,
): string {
  if (expression.type !== 'boolean') throw new ExpressionCompileError(`not a condition: ${expression.type}`);
  return new Compiler({ params, now: options.now, settings: options.settings }).condition(expression.root);
}

/** A value expression as SQL (NULL where the evaluator gives null); dates are `date`, numbers `float8`. */
export function compileValue(
  expression: CheckedExpression,
  options: FactSqlOptions,
  params: SqlParameters,
): SqlFragment {
  const compiler = new Compiler({ params, now: options.now, settings: options.settings });
  // A condition is true or false, never NULL, as `evaluate` gives it.
  if (expression.type === 'boolean') return { sql: compiler.condition(expression.root), nullable: false };
  return compiler.value(expression.root);
}

const NULL_CASTS: Record<ValueType, string> = {
  number: 'float8',
  string: 'text',
  boolean: 'boolean',
  date: 'date',
  duration: 'float8',
  strings: 'text[]',
};

const COMPARISON_SQL = { '==': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' } as const;

/**
 * A test (comparison, membership) is true or false, never NULL, also as a value
 * (`(a < b) == false`, `coalesce(x, a < b)`), as in the evaluator.
 */
function twoValued(sql: string, nullable: boolean): SqlFragment {
  return { sql: nullable ? `(${sql} IS TRUE)` : sql, nullable: false };
}

class Compiler {
  constructor(private readonly q: FactSqlContext) {}

  /** A boolean that is never NULL: NULL (a boolean attribute, a coalesce) counts as false. */
  condition(node: CheckedNode): string {
    const compiled = this.value(node);
    return twoValued(compiled.sql, compiled.nullable).sql;
  }

  value(node: CheckedNode): SqlFragment {
    const p = this.q.params;
    switch (node.kind) {
      case 'literal':
        switch (node.type) {
          case 'number':
          case 'duration':
            return { sql: p.add(node.value, 'float8'), nullable: false };
          case 'string':
            return { sql: p.add(node.value, 'text'), nullable: false };
          case 'boolean':
            return { sql: node.value ? 'true' : 'false', nullable: false };
        }
        break;
      case 'null':
        return { sql: `NULL::${NULL_CASTS[node.type]}`, nullable: true };
      case 'fact':
        return node.fact.scope === 'account'
          ? accountFactSql(node.fact.key, this.q)
          : contactFactSql(node.fact.key, this.q);
      case 'attribute': {
        const json = `${node.scope === 'account' ? 'a' : 'c'}.attributes`;
        const key = p.add(node.key, 'text');
        const text = `${json} ->> ${key}`;
        const read = { number: `(${text})::float8`, string: text, boolean: `(${text})::boolean` }[node.type];
        return { sql: `(CASE WHEN jsonb_typeof(${json} -> ${key}) = '${node.type}' THEN ${read} END)`, nullable: true };
      }
      case 'attribute_null_test': {
        const json = `${node.scope === 'account' ? 'a' : 'c'}.attributes`;
        const typeOf = `COALESCE(jsonb_typeof(${json} -> ${p.add(node.key, 'text')}), 'null')`;
        return { sql: `(${typeOf} ${node.negated ? '<>' : '='} 'null')`, nullable: false };
      }
      case 'null_test':
        return { sql: `(${this.value(node.operand).sql} IS ${node.negated ? 'NOT ' : ''}NULL)`, nullable: false };
      case 'not':
        return { sql: `(NOT ${this.condition(node.operand)})`, nullable: false };
      case 'and':
      case 'or':
        return {
          sql: `(${node.operands.map((o) => this.condition(o)).join(node.kind === 'and' ? ' AND ' : ' OR ')})`,
          nullable: false,
        };
      case 'compare': {
        const left = this.value(node.left);
        const right = this.value(node.right);
        return twoValued(
          `(${left.sql} ${COMPARISON_SQL[node.operator]} ${right.sql})`,
          left.nullable || right.nullable,
        );
      }
      case 'in_list': {
        const operand = this.value(node.operand);
        const cast = node.itemType === 'number' ? 'float8[]' : node.itemType === 'string' ? 'text[]' : 'boolean[]';
        const list = p.add(node.items, cast);
        const sql = node.negated ? `(${operand.sql} <> ALL(${list}))` : `(${operand.sql} = ANY(${list}))`;
        return twoValued(sql, operand.nullable);
      }
      case 'in_strings': {
        const needle = this.value(node.needle);
        const haystack = this.value(node.haystack);
        const sql = node.negated ? `(${needle.sql} <> ALL(${haystack.sql}))` : `(${needle.sql} = ANY(${haystack.sql}))`;
        return twoValued(sql, needle.nullable || haystack.nullable);
      }
      case 'arithmetic': {
        const left = this.value(node.left);
        const right = this.value(node.right);
        const zero = () => p.add(0, 'float8');
        switch (node.operator) {
          case '+':
          case '-':
          case '*':
            return { sql: `(${left.sql} ${node.operator} ${right.sql})`, nullable: left.nullable || right.nullable };
          case '/':
            return { sql: `(${left.sql} / NULLIF(${right.sql}, ${zero()}))`, nullable: true };
          case '%':
            // a - b * trunc(a / b), each operand computed once.
            return {
              sql: `(SELECT m.x - m.y * trunc(m.x / m.y) FROM (SELECT ${left.sql} AS x, NULLIF(${right.sql}, ${zero()}) AS y) AS m)`,
              nullable: true,
            };
        }
        break;
      }
      case 'negate': {
        const operand = this.value(node.operand);
        return { sql: `(- ${operand.sql})`, nullable: operand.nullable };
      }
      case 'count':
        return countSql(this.q, node.scope, node.eventType, node.days);
      case 'visits':
        return visitsSql(this.q, node.scope, node.group, node.days);
      case 'days_since':
      case 'days_until': {
        const date = this.value(node.operand);
        const today = accountTodaySql(this.q);
        const sql =
          node.kind === 'days_since' ? `(${today} - ${date.sql})::float8` : `(${date.sql} - ${today})::float8`;
        return { sql: `(${sql})`, nullable: date.nullable };
      }
      case 'coalesce': {
        const operands = node.operands.map((o) => this.value(o));
        return {
          sql: `COALESCE(${operands.map((o) => o.sql).join(', ')})`,
          nullable: operands.every((o) => o.nullable),
        };
      }
      case 'segment':
        return { sql: this.condition(node.body), nullable: false };
      case 'step_activity':
        throw new ExpressionCompileError(
          `${node.activity}('${node.stepId}') belongs to one enrollment and cannot be compiled to SQL over the population`,
        );
    }
  }
}
