/**
 * The steps of a scenario as a control-flow graph: which step follows which, so the
 * validator can find duplicate ids, unreachable steps and loops that never wait, and
 * the runtime can find the step after a given one. PURE.
 */
import { type Step, stepKindOf, type StepKind } from './scenario.schema';
import type { DataPath } from './yaml-source';

export interface StepNode {
  step: Step;
  kind: StepKind;
  /** Where the step is in the file's data (for positions). */
  path: DataPath;
  /** The steps that may run next, as indexes into `all`; `null` stands for the end of the journey. */
  next: (number | null)[];
}

export interface StepGraph {
  /** By step id; the first step with an id wins when ids repeat (duplicates are reported). */
  nodes: Map<string, StepNode>;
  /** Every step in document order (depth first), duplicates included. */
  all: StepNode[];
}

/**
 * Builds the graph. Edges point at positions, not ids, so a repeated id cannot
 * create a false edge; `goto` resolves to the first step with its id.
 */
export function buildStepGraph(steps: readonly Step[], basePath: DataPath = ['steps']): StepGraph {
  const graph: StepGraph = { nodes: new Map(), all: [] };
  const gotos: StepNode[] = [];
  addList(graph, steps, basePath, null, gotos);
  for (const node of gotos) {
    const target = graph.nodes.get((node.step as GotoStep).goto);
    node.next = target === undefined ? [] : [graph.all.indexOf(target)];
  }
  return graph;
}

type GotoStep = Extract<Step, { goto: unknown }>;

/** Adds a list of steps; returns the index of its first step. `continuation`: where the list falls through to. */
function addList(
  graph: StepGraph,
  steps: readonly Step[],
  path: DataPath,
  continuation: number | null,
  gotos: StepNode[],
): number | null {
  if (steps.length === 0) return continuation;
  const nodes: StepNode[] = steps.map((step, index) => ({
    step,
    kind: stepKindOf(step),
    path: [...path, index],
    next: [],
  }));
  const first = graph.all.length;
  // This list's positions are reserved before its children's, so `after` is known when they are added.
  const indexes: number[] = [];
  for (const node of nodes) {
    indexes.push(graph.all.length);
    graph.all.push(node);
    if (!graph.nodes.has(node.step.id)) graph.nodes.set(node.step.id, node);
  }
  nodes.forEach((node, index) => {
    const after = indexes[index + 1] ?? continuation;
    const step = node.step;
    const sub = (list: readonly Step[] | undefined, subPath: DataPath) =>
      list === undefined ? after : addList(graph, list, subPath, after, gotos);
    const stepPath = node.path;
    switch (node.kind) {
      case 'send':
      case 'wait':
      case 'set':
      case 'handoff':
        node.next = [after];
        break;
      case 'wait_for': {
        const s = step as Extract<Step, { wait_for: unknown }>;
        node.next = [after, sub(s.on_timeout, [...stepPath, 'on_timeout'])];
        break;
      }
      case 'if': {
        const s = step as Extract<Step, { if: unknown }>;
        node.next = [sub(s.then, [...stepPath, 'then']), sub(s.else, [...stepPath, 'else'])];
        break;
      }
      case 'split': {
        const s = step as Extract<Step, { split: unknown }>;
        node.next = s.split.variants.map((v, i) => sub(v.steps, [...stepPath, 'split', 'variants', i, 'steps']));
        // The holdout receives nothing more: its path ends here (it is still measured).
        if ((s.split.holdout ?? 0) > 0) node.next.push(null);
        break;
      }
      case 'exit':
        node.next = [null];
        break;
      case 'goto':
        gotos.push(node);
        break;
    }
  });
  return first;
}

/** Steps no path from the first step reaches. */
export function unreachableSteps(graph: StepGraph): StepNode[] {
  const seen = new Set<number>();
  const queue = graph.all.length === 0 ? [] : [0];
  while (queue.length > 0) {
    const index = queue.pop()!;
    if (seen.has(index)) continue;
    seen.add(index);
    for (const next of graph.all[index]?.next ?? []) if (next !== null && !seen.has(next)) queue.push(next);
  }
  return graph.all.filter((_, index) => !seen.has(index));
}

/**
 * Cycles with no wait or wait_for on them: a journey would spin without pause.
 * Returns, per such cycle, the steps on it (in order).
 */
export function loopsWithoutWait(graph: StepGraph): StepNode[][] {
  const pauses = (n: StepNode) => n.kind === 'wait' || n.kind === 'wait_for';
  const state = new Map<number, 'open' | 'done'>();
  const stack: number[] = [];
  const loops: StepNode[][] = [];
  const visit = (index: number) => {
    state.set(index, 'open');
    stack.push(index);
    const node = graph.all[index];
    if (node && !pauses(node)) {
      for (const next of node.next) {
        if (next === null) continue;
        const s = state.get(next);
        if (s === 'open') loops.push(stack.slice(stack.indexOf(next)).map((i) => graph.all[i]!));
        else if (s === undefined) visit(next);
      }
    }
    stack.pop();
    state.set(index, 'done');
  };
  graph.all.forEach((_, index) => {
    if (!state.has(index)) visit(index);
  });
  return loops;
}
