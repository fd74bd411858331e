/**
 * What an expression refers to: from the parsed tree (with spans, for the validator's
 * messages, even when the checker found problems) and from the checked tree (what the
 * snapshot repository must load). PURE.
 */
import { findFact } from '../facts/catalogue';
import type { CheckedExpression, CheckedNode } from './checked-expression.types';
import { findFunction } from './expression.functions';
import type { Expression, ExpressionNode, Span } from './expression.types';

export interface ExpressionReferences {
  /** Fact names as written: catalogue facts and `account.attributes.<key>` / `contact.attributes.<key>`. */
  facts: { name: string; span: Span }[];
  /** Event types counted with count(...) (the quoted type; span of the string). */
  eventTypes: { type: string; span: Span }[];
  segments: { name: string; span: Span }[];
  pageGroups: { name: string; span: Span }[];
  /** Step ids of opened(...) / clicked(...). */
  stepIds: { id: string; span: Span }[];
}

export function referencesOf(expression: Expression): ExpressionReferences {
  const refs: ExpressionReferences = { facts: [], eventTypes: [], segments: [], pageGroups: [], stepIds: [] };
  const visit = (node: ExpressionNode): void => {
    switch (node.kind) {
      case 'name':
        if (!findFunction(node.name)) refs.facts.push({ name: node.name, span: node.span });
        return;
      case 'call': {
        const first = node.args[0];
        const kind = findFunction(node.callee)?.kind;
        if (first?.kind === 'string') {
          const ref = { span: first.span };
          if (kind === 'count') refs.eventTypes.push({ type: first.value, ...ref });
          if (kind === 'visits') refs.pageGroups.push({ name: first.value, ...ref });
          if (kind === 'segment') refs.segments.push({ name: first.value, ...ref });
          if (kind === 'opened' || kind === 'clicked') refs.stepIds.push({ id: first.value, ...ref });
        }
        node.args.forEach(visit);
        return;
      }
      case 'unary':
        visit(node.operand);
        return;
      case 'arithmetic':
      case 'logical':
      case 'comparison':
      case 'membership':
        visit(node.left);
        visit(node.right);
        return;
      case 'number':
      case 'string':
      case 'boolean':
      case 'null':
      case 'duration':
      case 'list':
        return;
    }
  };
  visit(expression.root);
  return refs;
}

/** What evaluating a set of checked expressions needs from the snapshots. */
export interface FactRequirements {
  /** Rollup rows of the last N UTC days (0: none). */
  windowDays: number;
  /** The latest product-usage day (last_active_on, days_since_last_activity). */
  lastActive: boolean;
  /** Contact-day activity of the account (active_users_Nd). */
  activeUsers: boolean;
  /** Site rollups (visits()). */
  site: boolean;
}

const NO_REQUIREMENTS: FactRequirements = { windowDays: 0, lastActive: false, activeUsers: false, site: false };

export function requirementsOf(expressions: readonly CheckedExpression[]): FactRequirements {
  const needs = { ...NO_REQUIREMENTS };
  const window = (days: number) => {
    needs.windowDays = Math.max(needs.windowDays, days);
  };
  const visit = (node: CheckedNode): void => {
    switch (node.kind) {
      case 'fact': {
        if (node.fact.windowDays !== undefined) window(node.fact.windowDays);
        if (node.fact.key === 'last_active_on' || node.fact.key === 'days_since_last_activity') needs.lastActive = true;
        if (node.fact.key.startsWith('active_users_')) needs.activeUsers = true;
        return;
      }
      case 'count':
        window(node.days);
        return;
      case 'visits':
        window(node.days);
        needs.site = true;
        return;
      case 'literal':
      case 'null':
      case 'attribute':
      case 'attribute_null_test':
      case 'step_activity':
        return;
      case 'null_test':
      case 'not':
      case 'negate':
      case 'days_since':
      case 'days_until':
      case 'in_list':
        visit(node.operand);
        return;
      case 'and':
      case 'or':
      case 'coalesce':
        node.operands.forEach(visit);
        return;
      case 'compare':
      case 'arithmetic':
        visit(node.left);
        visit(node.right);
        return;
      case 'in_strings':
        visit(node.needle);
        visit(node.haystack);
        return;
      case 'segment':
        visit(node.body);
        return;
    }
  };
  for (const expression of expressions) visit(expression.root);
  return needs;
}

/** Whether a written name is a catalogue fact or a custom attribute reference. */
export function isFactName(name: string): boolean {
  return findFact(name) !== undefined || /^(account|contact)\.attributes\.[A-Za-z0-9_]+$/.test(name);
}
