import { buildStepGraph, loopsWithoutWait, unreachableSteps } from './scenario-graph';
import type { Step } from './scenario.schema';

const ids = (nodes: { step: Step }[]) => nodes.map((n) => n.step.id);

describe('step graph', () => {
  it('follows lists, branches and their continuations', () => {
    const steps: Step[] = [
      { id: 'a', send: 'g/a' },
      { id: 'b', if: 'true', then: [{ id: 'c', send: 'g/c' }], else: [{ id: 'd', exit: 'done' }] },
      { id: 'e', wait_for: { event: 'login', timeout: '7d' }, on_timeout: [{ id: 'f', send: 'g/f' }] },
      { id: 'g', send: 'g/g' },
    ];
    const graph = buildStepGraph(steps);
    const next = (id: string) => graph.nodes.get(id)!.next.map((i) => (i === null ? null : graph.all[i]!.step.id));
    expect(next('a')).toEqual(['b']);
    expect(next('b')).toEqual(['c', 'd']);
    expect(next('c')).toEqual(['e']);
    expect(next('d')).toEqual([null]);
    expect(next('e')).toEqual(['g', 'f']);
    expect(next('f')).toEqual(['g']);
    expect(next('g')).toEqual([null]);
    expect(unreachableSteps(graph)).toEqual([]);
  });

  it('finds steps after an exit, after a goto, and after branches that all end', () => {
    const steps: Step[] = [
      { id: 'a', if: 'true', then: [{ id: 'x', exit: 'one' }], else: [{ id: 'y', exit: 'two' }] },
      { id: 'after-both', send: 'g/a' },
      { id: 'jump', goto: 'a' },
      { id: 'after-goto', send: 'g/b' },
    ];
    expect(ids(unreachableSteps(buildStepGraph(steps)))).toEqual(['after-both', 'jump', 'after-goto']);
  });

  it('a holdout ends its path; variants continue after the split', () => {
    const steps: Step[] = [
      {
        id: 's',
        split: { holdout: 10, variants: [{ name: 'a', weight: 1, steps: [{ id: 'va', send: 'g/a' }] }] },
      },
      { id: 'z', send: 'g/z' },
    ];
    const graph = buildStepGraph(steps);
    expect(graph.nodes.get('s')!.next).toContain(null);
    expect(graph.all[graph.nodes.get('va')!.next[0]!]!.step.id).toBe('z');
  });

  it('a loop with a wait is fine; one without is reported with its steps', () => {
    const waiting: Step[] = [
      { id: 'remind', send: 'g/r' },
      { id: 'week', wait: '7d' },
      { id: 'again', if: 'true', then: [{ id: 'loop', goto: 'remind' }] },
    ];
    expect(loopsWithoutWait(buildStepGraph(waiting))).toEqual([]);
    const spinning: Step[] = [
      { id: 'remind', send: 'g/r' },
      { id: 'again', if: 'true', then: [{ id: 'loop', goto: 'remind' }] },
    ];
    expect(loopsWithoutWait(buildStepGraph(spinning)).map(ids)).toEqual([['remind', 'again', 'loop']]);
  });

  it('a repeated id does not create edges to the first step with that id', () => {
    const steps: Step[] = [
      { id: 'a', send: 'g/a' },
      { id: 'b', if: 'true', then: [{ id: 'a', send: 'g/b' }] },
    ];
    expect(loopsWithoutWait(buildStepGraph(steps))).toEqual([]);
  });
});
