/**
 * The scenario core: given a compiled scenario, one enrollment's state, the facts about
 * its subject and `now`, decide what happens next: the effects to perform (send, handoff,
 * set), where the enrollment waits and until when, or how it leaves. It never reads a
 * clock, a database or a file, so live runs, the simulator and tests share it. PURE.
 */
import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import { evaluateCondition } from '../expression';
import type { FactContext } from '../facts/fact-context';
import type { HandoffStep, SendStep, SetStep, WaitForStep } from '../scenario.schema';
import { type CompiledScenario, durationMs } from './compiled-scenario';

/** Where an enrollment stands between two runs. */
export interface EnrollmentState {
  id: string;
  /** The contact or account id: split assignment is deterministic per subject. */
  subjectKey: string;
  enteredAt: Date;
  /** Index (in the step graph) of the next step, or of the step being waited on; null: not started. */
  cursor: number | null;
  waiting: Waiting | undefined;
  /** Split step id -> variant name, or `holdout`. */
  assignments: Readonly<Record<string, string>>;
  /** Step id -> times run (a goto loop runs a step again: each run is its own effect). */
  visits: Readonly<Record<string, number>>;
}

export type Waiting =
  | { kind: 'wait'; until: Date }
  | {
      kind: 'wait_for';
      event: string;
      where: Readonly<Record<string, unknown>> | undefined;
      /** Events from this time on count. */
      since: Date;
      timeoutAt: Date;
    }
  /** Held out by a split: nothing more happens; kept until the goal window ends so it is measured. */
  | { kind: 'holdout'; until: Date };

/** An effect, recorded under `intentKey` so a retry, a crash or a second worker cannot repeat it. */
export type Effect =
  | { kind: 'send'; intentKey: string; stepId: string; template: string; to: SendStep['to']; data: SendStep['data'] }
  | { kind: 'handoff'; intentKey: string; stepId: string; handoff: HandoffStep['handoff'] }
  | { kind: 'set'; intentKey: string; stepId: string; set: SetStep['set'] }
  | { kind: 'assign'; intentKey: string; stepId: string; variant: string };

export type Outcome =
  | { kind: 'waiting'; nextRunAt: Date }
  | { kind: 'converted' }
  | { kind: 'exited'; reason: string }
  | { kind: 'completed' };

export interface AdvanceInput {
  scenario: CompiledScenario;
  state: EnrollmentState;
  now: Date;
  facts: FactContext;
  /** True when the event the enrollment waits for (wait_for) has arrived. */
  eventArrived?: boolean;
  /** The recipient's IANA zone, for `wait: { until: ... }`. */
  timeZone: string;
}

export interface AdvanceResult {
  effects: Effect[];
  state: EnrollmentState;
  outcome: Outcome;
  /** Why, decision by decision: for the simulator and for "why did this happen". */
  trace: string[];
}

/** A journey with more steps than this in one run has a bug the validator missed. */
const MAX_STEPS_PER_RUN = 1_000;

export function advance(input: AdvanceInput): AdvanceResult {
  const { scenario, now, facts } = input;
  const graph = scenario.graph;
  const trace: string[] = [];
  const effects: Effect[] = [];
  let state: EnrollmentState = { ...input.state };
  const nodeAt = (i: number) => graph.all[i]!;
  const done = (outcome: Outcome): AdvanceResult => ({ effects, state, outcome, trace });

  // 1. A wait in progress.
  const waiting = state.waiting;
  if (waiting !== undefined && state.cursor !== null) {
    const node = nodeAt(state.cursor);
    if (waiting.kind === 'wait') {
      if (now < waiting.until) return withGoalChecks(done({ kind: 'waiting', nextRunAt: waiting.until }));
      trace.push(`${node.step.id}: wait over`);
      state = { ...state, waiting: undefined, cursor: node.next[0] ?? null };
    } else if (waiting.kind === 'wait_for') {
      if (input.eventArrived === true) {
        trace.push(`${node.step.id}: ${waiting.event} arrived`);
        state = { ...state, waiting: undefined, cursor: node.next[0] ?? null };
      } else if (now >= waiting.timeoutAt) {
        trace.push(`${node.step.id}: no ${waiting.event} before the timeout`);
        state = { ...state, waiting: undefined, cursor: node.next[1] ?? null };
      } else {
        return withGoalChecks(done({ kind: 'waiting', nextRunAt: waiting.timeoutAt }));
      }
    } else {
      const result = withGoalChecks(done({ kind: 'waiting', nextRunAt: waiting.until }));
      if (result.outcome.kind === 'waiting' && now >= waiting.until) {
        trace.push('holdout: goal window over');
        return { ...result, outcome: { kind: 'exited', reason: 'holdout' } };
      }
      return result;
    }
  }

  // 2. Goal, then exit_when, before any step.
  const early = checkGoalAndExit();
  if (early !== undefined) return done(early);

  // 3. Run steps until a wait or the end.
  if (state.cursor === null && Object.keys(state.visits).length === 0)
    state = { ...state, cursor: graph.all.length > 0 ? 0 : null };
  for (let ran = 0; state.cursor !== null; ran++) {
    if (ran >= MAX_STEPS_PER_RUN) throw new Error(`${scenario.id}: more than ${MAX_STEPS_PER_RUN} steps in one run`);
    const index: number = state.cursor;
    const node = nodeAt(index);
    const id = node.step.id;
    const visit = (state.visits[id] ?? 0) + 1;
    state = { ...state, visits: { ...state.visits, [id]: visit } };
    const intentKey = `${state.id}:${id}:${visit}`;
    const next = (branch = 0) => {
      state = { ...state, cursor: node.next[branch] ?? null };
    };
    const step = node.step;
    switch (node.kind) {
      case 'send': {
        const s = step as SendStep;
        effects.push({ kind: 'send', intentKey, stepId: id, template: s.send, to: s.to, data: s.data });
        trace.push(`${id}: send ${s.send}`);
        next();
        break;
      }
      case 'handoff': {
        effects.push({ kind: 'handoff', intentKey, stepId: id, handoff: (step as HandoffStep).handoff });
        trace.push(`${id}: hand off (${(step as HandoffStep).handoff.reason})`);
        next();
        break;
      }
      case 'set': {
        const set = (step as SetStep).set;
        effects.push({ kind: 'set', intentKey, stepId: id, set });
        const what =
          'attribute' in set ? `attributes.${set.attribute}` : 'tag' in set ? `tag ${set.tag}` : `untag ${set.untag}`;
        trace.push(`${id}: set ${set.on} ${what}`);
        next();
        break;
      }
      case 'wait': {
        const wait = (step as Extract<typeof step, { wait: unknown }>).wait;
        const until =
          typeof wait === 'string'
            ? new Date(now.getTime() + durationMs(wait))
            : nextLocalTime(wait.until, now, input.timeZone);
        state = { ...state, waiting: { kind: 'wait', until } };
        trace.push(`${id}: wait until ${until.toISOString()}`);
        return done({ kind: 'waiting', nextRunAt: until });
      }
      case 'wait_for': {
        const s = (step as WaitForStep).wait_for;
        const timeoutAt = new Date(now.getTime() + durationMs(s.timeout));
        state = { ...state, waiting: { kind: 'wait_for', event: s.event, where: s.where, since: now, timeoutAt } };
        trace.push(`${id}: wait for ${s.event} until ${timeoutAt.toISOString()}`);
        return done({ kind: 'waiting', nextRunAt: timeoutAt });
      }
      case 'if': {
        const holds = evaluateCondition(scenario.conditions.get(id)!, facts);
        trace.push(`${id}: ${holds ? 'then' : 'else'}`);
        next(holds ? 0 : 1);
        break;
      }
      case 'split': {
        const split = (step as Extract<typeof step, { split: unknown }>).split;
        let variant = state.assignments[id];
        if (variant === undefined) {
          variant = assignVariant(scenario.id, id, state.subjectKey, split.variants, split.holdout ?? 0);
          state = { ...state, assignments: { ...state.assignments, [id]: variant } };
          effects.push({ kind: 'assign', intentKey, stepId: id, variant });
        }
        trace.push(`${id}: variant ${variant}`);
        if (variant === 'holdout') {
          const until = scenario.goal ? new Date(state.enteredAt.getTime() + scenario.goal.withinMs) : now;
          if (until <= now) return done({ kind: 'exited', reason: 'holdout' });
          state = { ...state, waiting: { kind: 'holdout', until } };
          return done({ kind: 'waiting', nextRunAt: until });
        }
        next(split.variants.findIndex((v) => v.name === variant));
        break;
      }
      case 'exit': {
        const reason = (step as Extract<typeof step, { exit: unknown }>).exit;
        trace.push(`${id}: exit (${reason})`);
        state = { ...state, cursor: null };
        return done({ kind: 'exited', reason });
      }
      case 'goto':
        trace.push(`${id}: go to ${(step as Extract<typeof step, { goto: unknown }>).goto}`);
        next();
        break;
    }
  }
  trace.push('end of the journey');
  return done({ kind: 'completed' });

  function checkGoalAndExit(): Outcome | undefined {
    const goal = scenario.goal;
    if (goal && now.getTime() - state.enteredAt.getTime() <= goal.withinMs && evaluateCondition(goal.when, facts)) {
      trace.push('goal met');
      return { kind: 'converted' };
    }
    if (scenario.exitWhen && evaluateCondition(scenario.exitWhen, facts)) {
      trace.push('exit_when holds');
      return { kind: 'exited', reason: 'exit_when' };
    }
    return undefined;
  }

  /** While waiting, a goal met or an exit condition still ends the enrollment. */
  function withGoalChecks(result: AdvanceResult): AdvanceResult {
    const early = checkGoalAndExit();
    return early === undefined ? result : { ...result, outcome: early };
  }
}

/**
 * Deterministic per subject: the same scenario, step and subject always get the same
 * variant. `holdout` percent of subjects are held out, the rest split by weight.
 */
export function assignVariant(
  scenarioId: string,
  stepId: string,
  subjectKey: string,
  variants: readonly { name: string; weight: number }[],
  holdoutPercent: number,
): string {
  const digest = createHash('sha256').update(`${scenarioId}\u0000${stepId}\u0000${subjectKey}`).digest();
  const first = digest.readUInt32BE(0) / 2 ** 32;
  if (first < holdoutPercent / 100) return 'holdout';
  const second = digest.readUInt32BE(4) / 2 ** 32;
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  let point = second * total;
  for (const v of variants) {
    if (point < v.weight) return v.name;
    point -= v.weight;
  }
  return variants[variants.length - 1]!.name;
}

const WEEKDAY_NUMBER: Record<string, number> = {
  monday: 1,
  tuesday: 2,
  wednesday: 3,
  thursday: 4,
  friday: 5,
  saturday: 6,
  sunday: 7,
};

/** The first `HH:MM` (on the given weekday, or Monday-Friday for `weekday`) strictly after `now` in `zone`. */
export function nextLocalTime(spec: string, now: Date, zone: string): Date {
  const parts = spec.split(' ');
  const time = parts[parts.length - 1]!;
  const day = parts.length === 2 ? parts[0]! : undefined;
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  const local = DateTime.fromJSDate(now, { zone });
  for (let offset = 0; offset <= 8; offset++) {
    const candidate = local.plus({ days: offset }).set({ hour, minute, second: 0, millisecond: 0 });
    if (candidate <= local) continue;
    const weekday = candidate.weekday;
    if (day === 'weekday' ? weekday <= 5 : day === undefined || WEEKDAY_NUMBER[day] === weekday) {
      return candidate.toJSDate();
    }
  }
  throw new Error(`no next local time for ${spec}`);
}
