/**
 * A validated scenario made ready to run: its step graph, and every condition parsed and
 * checked once. Live runs, the simulator and tests all run this. PURE.
 */
import type { CheckedExpression } from '../expression';
import { analyzeWithCatalog } from '../scenario-expressions';
import type { CatalogDefinition, ScenarioDefinition } from '../scenario.schema';
import { buildStepGraph, type StepGraph } from '../scenario-graph';

export interface CompiledScenario {
  id: string;
  versionHash: string;
  definition: ScenarioDefinition;
  graph: StepGraph;
  /** `if` conditions by step id. */
  conditions: ReadonlyMap<string, CheckedExpression>;
  goal: { when: CheckedExpression; withinMs: number } | undefined;
  exitWhen: CheckedExpression | undefined;
}

export class ScenarioCompileError extends Error {}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30m`, `12h`, `14d`, `2w` in milliseconds. */
export function durationMs(text: string): number {
  const match = /^(\d+)(m|h|d|w)$/.exec(text);
  if (!match) throw new ScenarioCompileError(`not a duration: ${text}`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Compiles a scenario the validator accepted; throws when a condition does not check (a bug, not user input). */
export function compileScenario(
  definition: ScenarioDefinition,
  versionHash: string,
  catalog: CatalogDefinition,
): CompiledScenario {
  const graph = buildStepGraph(definition.steps);
  const sendStepIds = new Set(graph.all.filter((n) => n.kind === 'send').map((n) => n.step.id));
  const compile = (text: string, where: string): CheckedExpression => {
    const analyzed = analyzeWithCatalog(text, catalog, {
      scope: definition.subject,
      context: 'enrollment',
      stepIds: sendStepIds,
    });
    if (analyzed.checked === undefined) {
      throw new ScenarioCompileError(`${definition.id}: ${where}: ${analyzed.issues.map((i) => i.message).join('; ')}`);
    }
    return analyzed.checked;
  };
  const conditions = new Map<string, CheckedExpression>();
  for (const node of graph.all) {
    if ('if' in node.step) conditions.set(node.step.id, compile(node.step.if, `step ${node.step.id}`));
  }
  return {
    id: definition.id,
    versionHash,
    definition,
    graph,
    conditions,
    goal: definition.goal
      ? { when: compile(definition.goal.when, 'goal'), withinMs: durationMs(definition.goal.within) }
      : undefined,
    exitWhen: definition.exit_when === undefined ? undefined : compile(definition.exit_when, 'exit_when'),
  };
}
