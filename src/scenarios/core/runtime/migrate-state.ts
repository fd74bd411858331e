/**
 * Moving an in-flight enrollment to a new version of its scenario (`migrate_in_flight:
 * true`), by step id. PURE.
 *
 * - The enrollment goes to the step with the same id in the new version. A wait in
 *   progress keeps its timing (it started under the old version); when the step at that
 *   id is now a different kind of step, the enrollment runs the new step at once.
 * - When the step it stands on is gone from the new version, the enrollment stays on the
 *   version it entered with (pinned) and finishes there: nothing is lost or guessed.
 * - Step visits and split assignments are kept by step id, so an effect already made is
 *   never made again (its intent key is the same) and a subject keeps its variant.
 */
import type { CompiledScenario } from './compiled-scenario';
import type { EnrollmentState, Waiting } from './planner';

export type MigrationDecision =
  | {
      kind: 'moved';
      state: EnrollmentState;
      /** True when the enrollment must run now (its step changed kind); otherwise its next run time stands. */
      runNow: boolean;
    }
  | { kind: 'pinned'; reason: string };

export function migrateState(from: CompiledScenario, to: CompiledScenario, state: EnrollmentState): MigrationDecision {
  if (state.cursor === null) return { kind: 'moved', state, runNow: false };
  const old = from.graph.all[state.cursor];
  if (old === undefined) return { kind: 'pinned', reason: `step #${state.cursor} is not in the version it entered` };
  const id = old.step.id;
  const target = to.graph.nodes.get(id);
  if (target === undefined) return { kind: 'pinned', reason: `step ${id} is not in the new version` };
  const cursor = to.graph.all.indexOf(target);
  if (state.waiting === undefined) return { kind: 'moved', state: { ...state, cursor }, runNow: false };
  if (target.kind !== old.kind) {
    // The wait in progress belongs to a step that is now something else: run the new step
    // (as the step's next visit, so its effects get intent keys of their own).
    return { kind: 'moved', state: { ...state, cursor, waiting: undefined }, runNow: true };
  }
  return {
    kind: 'moved',
    state: { ...state, cursor, waiting: carryWaiting(state.waiting, target.step) },
    runNow: false,
  };
}

/** A wait keeps its timing; a wait_for takes the new version's event and filter. */
function carryWaiting(waiting: Waiting, step: CompiledScenario['definition']['steps'][number]): Waiting {
  if (waiting.kind !== 'wait_for' || !('wait_for' in step)) return waiting;
  return { ...waiting, event: step.wait_for.event, where: step.wait_for.where };
}
