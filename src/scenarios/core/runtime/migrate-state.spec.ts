import { parse } from 'yaml';
import { scenarioSchema } from '../scenario.schema';
import { compileScenario, type CompiledScenario } from './compiled-scenario';
import { migrateState } from './migrate-state';
import { advance, type EnrollmentState } from './planner';

const NOW = new Date('2026-12-03T01:00:00Z');

function scenario(version: string, steps: string): CompiledScenario {
  const definition = scenarioSchema.parse(
    parse(`id: s\nname: s\ntrigger: { event: { type: login } }\nmigrate_in_flight: true\nsteps:\n${steps}`),
  );
  return compileScenario(definition, version, { segments: {}, page_groups: {}, events: {} });
}

const v1 = scenario(
  'v1',
  `
  - { id: welcome, send: onboarding/welcome }
  - { id: pause, wait: 3d }
  - { id: tips, send: onboarding/tips }
  - { id: waitlogin, wait_for: { event: login, timeout: 7d }, on_timeout: [{ id: nudge, send: onboarding/nudge }] }
`,
);

function state(overrides: Partial<EnrollmentState>): EnrollmentState {
  return {
    id: 'e1',
    subjectKey: 'c1',
    enteredAt: NOW,
    cursor: null,
    waiting: undefined,
    assignments: {},
    visits: {},
    ...overrides,
  };
}

const indexOf = (s: CompiledScenario, id: string) => s.graph.all.findIndex((n) => n.step.id === id);

describe('migrating an in-flight enrollment by step id', () => {
  it('moves a wait in progress to the same step of the new version, keeping its end time', () => {
    const v2 = scenario(
      'v2',
      `
  - { id: hello, send: onboarding/welcome }
  - { id: welcome, send: onboarding/welcome }
  - { id: pause, wait: 1d }
  - { id: tips2, send: onboarding/tips }
`,
    );
    const until = new Date(NOW.getTime() + 3 * 86_400_000);
    const waiting = state({
      cursor: indexOf(v1, 'pause'),
      waiting: { kind: 'wait', until },
      visits: { welcome: 1, pause: 1 },
    });
    const decision = migrateState(v1, v2, waiting);
    expect(decision).toEqual({
      kind: 'moved',
      runNow: false,
      state: { ...waiting, cursor: indexOf(v2, 'pause'), waiting: { kind: 'wait', until } },
    });
    if (decision.kind !== 'moved') throw new Error('not moved');
    // When the wait ends, the journey goes on with the new version's next step, not the old one.
    const run = advance({
      scenario: v2,
      state: decision.state,
      now: until,
      facts: { now: until } as never,
      timeZone: 'Asia/Tokyo',
    });
    expect(run.effects.map((e) => e.stepId)).toEqual(['tips2']);
  });

  it('pins an enrollment whose step is gone from the new version', () => {
    const v2 = scenario('v2', `  - { id: welcome, send: onboarding/welcome }\n`);
    const decision = migrateState(
      v1,
      v2,
      state({ cursor: indexOf(v1, 'pause'), waiting: { kind: 'wait', until: NOW }, visits: { welcome: 1, pause: 1 } }),
    );
    expect(decision).toEqual({ kind: 'pinned', reason: 'step pause is not in the new version' });
  });

  it('runs the new step at once when the step waited on changed kind, under a fresh intent key', () => {
    const v2 = scenario(
      'v2',
      `
  - { id: welcome, send: onboarding/welcome }
  - { id: pause, send: onboarding/tips }
`,
    );
    const before = state({
      cursor: indexOf(v1, 'pause'),
      waiting: { kind: 'wait', until: new Date(NOW.getTime() + 86_400_000) },
      visits: { welcome: 1, pause: 1 },
    });
    const decision = migrateState(v1, v2, before);
    if (decision.kind !== 'moved') throw new Error('not moved');
    expect(decision.runNow).toBe(true);
    expect(decision.state.waiting).toBeUndefined();
    const run = advance({
      scenario: v2,
      state: decision.state,
      now: NOW,
      facts: { now: NOW } as never,
      timeZone: 'Asia/Tokyo',
    });
    expect(run.effects).toEqual([expect.objectContaining({ kind: 'send', stepId: 'pause', intentKey: 'e1:pause:2' })]);
    expect(run.outcome).toEqual({ kind: 'completed' });
  });

  it('a wait_for in progress keeps its start and timeout and takes the new event filter', () => {
    const v2 = scenario(
      'v2',
      `
  - { id: waitlogin, wait_for: { event: login, where: { plan: pro }, timeout: 2d }, on_timeout: [{ id: nudge, send: onboarding/nudge }] }
`,
    );
    const waiting = {
      kind: 'wait_for' as const,
      event: 'login',
      where: undefined,
      since: NOW,
      timeoutAt: new Date(NOW.getTime() + 7 * 86_400_000),
    };
    const decision = migrateState(v1, v2, state({ cursor: indexOf(v1, 'waitlogin'), waiting }));
    expect(decision).toEqual({
      kind: 'moved',
      runNow: false,
      state: expect.objectContaining({ cursor: 0, waiting: { ...waiting, where: { plan: 'pro' } } }) as unknown,
    });
  });

  it('an enrollment that has not started yet simply moves', () => {
    const v2 = scenario('v2', `  - { id: other, send: onboarding/welcome }\n`);
    expect(migrateState(v1, v2, state({}))).toEqual({ kind: 'moved', runNow: false, state: state({}) });
  });
});
