/** Named segments for segment('name'): each checked once per check, inlined, cycles found. PURE. */
import type { CheckedNode } from './checked-expression.types';
import type { CheckOptions, CheckResult, SegmentDefinition } from './expression.checker';
import type { ResolvedSegment } from './expression-checker.host';
import { parseExpression } from './expression.parser';
import type { ExpressionNode } from './expression.types';

/** Checks each segment once per top-level check, inlines it, and finds cycles. */
export class SegmentResolver {
  private readonly done = new Map<string, { node: CheckedNode } | { error: string }>();
  private readonly stack: string[] = [];

  constructor(
    private readonly options: CheckOptions,
    /** Checks a segment's condition with this resolver (segments within segments). */
    private readonly checkSegment: (
      source: string,
      root: ExpressionNode,
      options: CheckOptions,
      resolver: SegmentResolver,
    ) => CheckResult,
  ) {}

  resolve(name: string, definition: SegmentDefinition): ResolvedSegment {
    const cycleAt = this.stack.indexOf(name);
    if (cycleAt >= 0) {
      return { error: `segment cycle: ${[...this.stack.slice(cycleAt), name].join(' -> ')}`, code: 'segment-cycle' };
    }
    const known = this.done.get(name);
    if (known) return 'node' in known ? known : { ...known, code: 'segment-invalid' };
    this.stack.push(name);
    let outcome: { node: CheckedNode } | { error: string };
    try {
      const parsed = parseExpression(definition.when);
      if (!parsed.ok) {
        outcome = { error: parsed.issues[0]?.message ?? 'does not parse' };
      } else {
        const segmentOptions: CheckOptions = {
          scope: definition.scope,
          context: 'population',
          expect: 'boolean',
          segments: this.options.segments,
          pageGroups: this.options.pageGroups,
        };
        const result = this.checkSegment(definition.when, parsed.expression.root, segmentOptions, this);
        const cycle = result.issues.find((i) => i.code === 'segment-cycle');
        if (cycle) return { error: cycle.message, code: 'segment-cycle' };
        outcome = result.checked ? { node: result.checked.root } : { error: result.issues[0]?.message ?? 'is invalid' };
      }
    } finally {
      this.stack.pop();
    }
    this.done.set(name, outcome);
    return 'node' in outcome ? outcome : { ...outcome, code: 'segment-invalid' };
  }
}
