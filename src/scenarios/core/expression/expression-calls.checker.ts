/**
 * The functions of the language: arity, argument kinds (quoted names, windows), page groups,
 * segments (inlined through the checker), opened()/clicked() context. PURE.
 */
import { EVENT_TYPE_PATTERN } from '../scenario.schema';
import { closest } from '../suggest.util';
import { findFact } from '../facts/catalogue';
import type { AttributeType, CheckedNode, ValueType } from './checked-expression.types';
import { type CheckerHost, own, staticTyped, type Typed, TYPE_NAMES } from './expression-checker.host';
import { FUNCTION_CATALOGUE, type FunctionDefinition, findFunction, MAX_WINDOW_DAYS } from './expression.functions';
import type { CallExpression, ExpressionNode, Span } from './expression.types';

export function checkCall(host: CheckerHost, node: CallExpression): Typed | undefined {
  const fn = findFunction(node.callee);
  if (!fn) {
    if (findFact(node.callee) || /^(account|contact)\.attributes\./.test(node.callee)) {
      host.report(
        'unknown-function',
        node.calleeSpan,
        `${node.callee} is a fact, not a function: remove the parentheses`,
      );
      return undefined;
    }
    const suggestion = closest(
      node.callee,
      FUNCTION_CATALOGUE.map((f) => f.name),
    );
    host.report(
      'unknown-function',
      node.calleeSpan,
      `unknown function '${node.callee}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
    );
    node.args.forEach((arg) => host.check(arg));
    return undefined;
  }
  switch (fn.kind) {
    case 'count':
    case 'visits':
      return checkWindowed(host, fn, node);
    case 'days_since':
    case 'days_until':
      return checkDays(host, fn, node);
    case 'coalesce':
      return checkCoalesce(host, node);
    case 'segment':
      return checkSegment(host, node);
    case 'opened':
    case 'clicked':
      return checkStepActivity(host, fn, node);
  }
}

function arity(host: CheckerHost, fn: FunctionDefinition, node: CallExpression, count: number, what: string): boolean {
  if (node.args.length === count) return true;
  const s = count === 1 ? '' : 's';
  host.report('arity', node.span, `${fn.name}() takes ${count} argument${s} (${what}), found ${node.args.length}`);
  return false;
}

/** A quoted string argument (event type, page group, segment name, step id). */
function stringArgument(
  host: CheckerHost,
  fn: FunctionDefinition,
  arg: ExpressionNode,
  what: string,
): string | undefined {
  if (arg.kind === 'string') return arg.value;
  const bare = arg.kind === 'name' && arg.path.length === 1 ? ` ${fn.name}('${arg.name}')` : ` e.g. ${fn.example}`;
  host.report('argument', arg.span, `the ${what} of ${fn.name}() is a quoted string:${bare}`);
  return undefined;
}

function checkWindowed(host: CheckerHost, fn: FunctionDefinition, node: CallExpression): Typed | undefined {
  const scope = fn.scope ?? 'account';
  const what = fn.kind === 'count' ? 'event type' : 'page group';
  if (!arity(host, fn, node, 2, `${what}, window`)) return undefined;
  const [first, second] = node.args as [ExpressionNode, ExpressionNode];
  const name = stringArgument(host, fn, first, what);
  const days = window(host, fn, second);
  let valid = name !== undefined && days !== undefined;
  if (name !== undefined && fn.kind === 'count' && !EVENT_TYPE_PATTERN.test(name)) {
    host.report(
      'argument',
      first.span,
      `'${name}' is not an event type: a-z first, then a-z, 0-9, _ or . (e.g. 'login')`,
    );
    valid = false;
  }
  if (name !== undefined && fn.kind === 'visits' && own(host.options.pageGroups, name) === undefined) {
    const suggestion = closest(name, Object.keys(host.options.pageGroups ?? {}));
    host.report(
      'unknown-page-group',
      first.span,
      `unknown page group '${name}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}: define it under page_groups: in scenarios/_catalog.yaml`,
    );
    valid = false;
  }
  if (!host.inScope(scope, `${fn.name}()`, node.calleeSpan) || !valid) return undefined;
  const checked: CheckedNode =
    fn.kind === 'count'
      ? { kind: 'count', type: 'number', scope, eventType: name!, days: days! }
      : { kind: 'visits', type: 'number', scope, group: name!, days: days! };
  return staticTyped('number', checked, node.span);
}

/** A window: a duration literal of whole days, 1 to MAX_WINDOW_DAYS. */
function window(host: CheckerHost, fn: FunctionDefinition, arg: ExpressionNode): number | undefined {
  if (arg.kind !== 'duration') {
    host.report('window', arg.span, `the window of ${fn.name}() is a duration in days or weeks, e.g. 14d or 2w`);
    return undefined;
  }
  const text = host.text(arg.span);
  if (arg.minutes % 1440 !== 0) {
    host.report('window', arg.span, `a window is whole days (e.g. 14d, 2w, 48h), not ${text}`);
    return undefined;
  }
  const days = arg.minutes / 1440;
  if (days < 1 || days > MAX_WINDOW_DAYS) {
    host.report('window', arg.span, `a window is 1 to ${MAX_WINDOW_DAYS} days, found ${text}`);
    return undefined;
  }
  return days;
}

function checkDays(host: CheckerHost, fn: FunctionDefinition, node: CallExpression): Typed | undefined {
  if (!arity(host, fn, node, 1, 'a date')) return undefined;
  const arg = node.args[0]!;
  const typed = host.check(arg);
  if (!typed) return undefined;
  if (typed.kind === 'static' && typed.type === 'date') {
    const kind = fn.kind === 'days_since' ? 'days_since' : 'days_until';
    return staticTyped('number', { kind, type: 'number', operand: typed.node }, node.span);
  }
  const found =
    typed.kind === 'static'
      ? TYPE_NAMES[typed.type]
      : typed.kind === 'dynamic'
        ? 'a custom attribute (attributes are numbers, strings or booleans)'
        : typed.kind === 'null'
          ? 'null'
          : 'a list';
  host.report(
    'type',
    arg.span,
    `${fn.name}() needs a date such as account.renewal_date, but '${host.text(arg.span)}' is ${found}`,
  );
  return undefined;
}

function checkCoalesce(host: CheckerHost, node: CallExpression): Typed | undefined {
  if (node.args.length < 2) {
    host.report('arity', node.span, `coalesce() takes 2 or more arguments, found ${node.args.length}`);
    return undefined;
  }
  const typed = node.args.map((arg) => host.check(arg));
  if (typed.some((t) => t === undefined)) return undefined;
  const args = typed as Typed[];
  let staticType: { type: ValueType; span: Span } | undefined;
  for (const arg of args) {
    if (arg.kind === 'list') {
      host.report('type', arg.span, "a list can only follow 'in'");
      return undefined;
    }
    if (arg.kind !== 'static') continue;
    if (staticType && staticType.type !== arg.type) {
      host.report(
        'type',
        arg.span,
        `coalesce() arguments must be of one type: '${host.text(staticType.span)}' is ${TYPE_NAMES[staticType.type]}, '${host.text(arg.span)}' is ${TYPE_NAMES[arg.type]}`,
      );
      return undefined;
    }
    staticType ??= { type: arg.type, span: arg.span };
  }
  const hasDynamic = args.some((a) => a.kind === 'dynamic');
  if (!staticType && !hasDynamic) {
    host.report('type', node.span, 'coalesce() of nothing but null is always null');
    return undefined;
  }
  const readAll = (as: ValueType): CheckedNode => ({
    kind: 'coalesce',
    type: as,
    operands: args.map((a): CheckedNode => {
      switch (a.kind) {
        case 'static':
          return a.node;
        case 'dynamic':
          return a.read(as as AttributeType);
        case 'null':
        case 'list':
          return { kind: 'null', type: as };
      }
    }),
  });
  if (staticType) {
    const type = staticType.type;
    if (hasDynamic && type !== 'number' && type !== 'string' && type !== 'boolean') {
      host.report('type', node.span, `coalesce() cannot mix custom attributes with ${TYPE_NAMES[type]}`);
      return undefined;
    }
    return staticTyped(type, readAll(type), node.span);
  }
  const dynamics = args.filter((a) => a.kind === 'dynamic');
  return {
    kind: 'dynamic',
    span: node.span,
    read: (as) => readAll(as),
    // Null when every argument is null (a null literal always is).
    nullTest: (negated) => {
      const tests = dynamics.map((d) => d.nullTest(negated));
      return tests.length === 1 ? tests[0]! : { kind: negated ? 'or' : 'and', type: 'boolean', operands: tests };
    },
  };
}

function checkSegment(host: CheckerHost, node: CallExpression): Typed | undefined {
  const fn = findFunction('segment')!;
  if (!arity(host, fn, node, 1, 'a segment name')) return undefined;
  const arg = node.args[0]!;
  const name = stringArgument(host, fn, arg, 'name');
  if (name === undefined) return undefined;
  const definition = own(host.options.segments, name);
  if (!definition) {
    const suggestion = closest(name, Object.keys(host.options.segments ?? {}));
    host.report(
      'unknown-segment',
      arg.span,
      `unknown segment '${name}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}: define it under segments: in scenarios/_catalog.yaml`,
    );
    return undefined;
  }
  if (definition.scope === 'contact' && host.options.scope === 'account') {
    host.report('scope', arg.span, `segment '${name}' is about contacts, but this expression is about accounts`);
    return undefined;
  }
  const resolved = host.resolveSegment(name, definition);
  if ('error' in resolved) {
    const message =
      resolved.code === 'segment-cycle' ? resolved.error : `segment '${name}' has errors: ${resolved.error}`;
    host.report(resolved.code, arg.span, message);
    return undefined;
  }
  return staticTyped('boolean', { kind: 'segment', type: 'boolean', name, body: resolved.node }, node.span);
}

function checkStepActivity(host: CheckerHost, fn: FunctionDefinition, node: CallExpression): Typed | undefined {
  if (!arity(host, fn, node, 1, 'a step id')) return undefined;
  const arg = node.args[0]!;
  const stepId = stringArgument(host, fn, arg, 'step id');
  if ((host.options.context ?? 'population') !== 'enrollment') {
    host.report(
      'step-context',
      node.calleeSpan,
      `${fn.name}() only works in journey conditions (steps, goal, exit_when), not in audiences, triggers or segments`,
    );
    return undefined;
  }
  if (stepId === undefined) return undefined;
  const ids = host.options.stepIds;
  if (ids !== undefined) {
    const list = [...ids];
    if (!list.includes(stepId)) {
      const suggestion = closest(stepId, list);
      host.report(
        'unknown-step',
        arg.span,
        `unknown step '${stepId}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}: ${fn.name}() names a send step of this scenario`,
      );
      return undefined;
    }
  }
  const activity = fn.kind === 'opened' ? 'opened' : 'clicked';
  return staticTyped('boolean', { kind: 'step_activity', type: 'boolean', activity, stepId }, node.span);
}
