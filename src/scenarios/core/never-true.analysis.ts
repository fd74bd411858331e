/**
 * Conditions that can never be true by the types of what they compare: an enumerated
 * fact against a value outside its domain (`account.tier == 'premium'`), a role no contact
 * can have, a count compared below zero. A goal written like that could never be met; an
 * audience or a trigger like that would never enroll anyone. PURE.
 */
import type { ComparisonExpression, ExpressionNode, MembershipExpression, Span } from './expression/expression.types';
import { findFact } from './facts/catalogue';

/** The only values a string fact can take (tier, lifecycle, status, locale), from the catalogue. */
function domainOf(name: string): readonly string[] | undefined {
  const fact = findFact(name);
  return fact?.type === 'string' ? fact.values : undefined;
}

/** The only items a list fact can hold (contact.roles). */
function listDomainOf(name: string): readonly string[] | undefined {
  const fact = findFact(name);
  return fact?.type === 'strings' ? fact.values : undefined;
}

/** Facts and functions that count things: never negative. */
function isCount(node: ExpressionNode): boolean {
  if (node.kind === 'call') return /(^|\.)(count|visits)$/.test(node.callee);
  if (node.kind !== 'name') return false;
  return /^(account|contact)\.(logins_\d+d|active_users_\d+d|opens_\d+d|clicks_\d+d|contacts)$/.test(node.name);
}

export interface NeverTrueProblem {
  span: Span;
  message: string;
}

export function findNeverTrue(root: ExpressionNode): NeverTrueProblem[] {
  const problems: NeverTrueProblem[] = [];
  const visit = (node: ExpressionNode): void => {
    switch (node.kind) {
      case 'comparison':
        checkComparison(node, problems);
        visit(node.left);
        visit(node.right);
        return;
      case 'membership':
        checkMembership(node, problems);
        visit(node.left);
        visit(node.right);
        return;
      case 'logical':
      case 'arithmetic':
        visit(node.left);
        visit(node.right);
        return;
      case 'unary':
        visit(node.operand);
        return;
      case 'call':
        node.args.forEach(visit);
        return;
      case 'list':
      case 'name':
      case 'number':
      case 'string':
      case 'boolean':
      case 'null':
      case 'duration':
        return;
    }
  };
  visit(root);
  return problems;
}

function quoteAll(values: readonly string[]): string {
  return values.map((v) => `'${v}'`).join(', ');
}

function checkComparison(node: ComparisonExpression, problems: NeverTrueProblem[]): void {
  const [fact, literal] =
    node.left.kind === 'name' && node.right.kind === 'string'
      ? [node.left, node.right]
      : node.right.kind === 'name' && node.left.kind === 'string'
        ? [node.right, node.left]
        : [undefined, undefined];
  if (fact !== undefined && literal !== undefined && node.operator === '==') {
    const domain = domainOf(fact.name);
    if (domain !== undefined && !domain.includes(literal.value)) {
      problems.push({
        span: literal.span,
        message: `can never be true: ${fact.name} is one of ${quoteAll(domain)}, never '${literal.value}'`,
      });
    }
  }
  // A count below zero.
  const countOnLeft = isCount(node.left) && node.right.kind === 'number';
  const countOnRight = isCount(node.right) && node.left.kind === 'number';
  if (countOnLeft || countOnRight) {
    const n = (countOnLeft ? node.right : node.left) as { value: number; span: Span };
    // Normalise to `count <op> n`.
    const flipped: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==', '!=': '!=' };
    const op = countOnLeft ? node.operator : (flipped[node.operator] ?? node.operator);
    const never = (op === '<' && n.value <= 0) || (op === '<=' && n.value < 0) || (op === '==' && n.value < 0);
    if (never) {
      problems.push({ span: node.span, message: `can never be true: a count is never below zero` });
    }
  }
}

function checkMembership(node: MembershipExpression, problems: NeverTrueProblem[]): void {
  if (node.negated) return;
  // fact in ['a', 'b']
  if (node.left.kind === 'name' && node.right.kind === 'list') {
    const domain = domainOf(node.left.name);
    if (domain === undefined) return;
    const strings = node.right.items.filter((i) => i.kind === 'string');
    for (const item of strings) {
      if (!domain.includes(item.value)) {
        problems.push({
          span: item.span,
          message: `'${item.value}' is not a value of ${node.left.name} (${quoteAll(domain)})`,
        });
      }
    }
  }
  // 'x' in contact.roles
  if (node.left.kind === 'string' && node.right.kind === 'name') {
    const domain = listDomainOf(node.right.name);
    if (domain !== undefined && !domain.includes(node.left.value)) {
      problems.push({
        span: node.left.span,
        message: `can never be true: ${node.right.name} holds only ${quoteAll(domain)}, never '${node.left.value}'`,
      });
    }
  }
}
