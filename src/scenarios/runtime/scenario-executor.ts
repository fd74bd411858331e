import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { Clock } from '../../common/clock';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { HandoffsService } from '../../handoffs/handoffs.service';
import { MessageQueue } from '../../messaging/send/message-queue.service';
import { factSettingsFrom } from '../../metrics/fact-settings';
import { FactSnapshotRepository, type SubjectSnapshot } from '../../metrics/fact-snapshot.repository';
import { requirementsOf } from '../core/expression';
import { type CompiledScenario, compileScenario } from '../core/runtime/compiled-scenario';
import { advance, type AdvanceResult, type Effect } from '../core/runtime/planner';
import type { CatalogDefinition, ScenarioDefinition } from '../core/scenario.schema';
import { type ClaimedEnrollment, type EnrollmentStatus, EnrollmentsRepository } from './enrollments.repository';

export interface ExecutorOptions {
  /** How long a claimed batch is leased; a worker that dies loses it after this. */
  leaseMs: number;
  batchSize: number;
  /**
   * The simulator's replay: effects are recorded under their intent keys but never
   * performed, only events up to the virtual `now` count, and every decision is shown.
   */
  replay?: { observe: (enrollment: ClaimedEnrollment, result: AdvanceResult | undefined, now: Date) => void };
}

export const DEFAULT_EXECUTOR_OPTIONS: ExecutorOptions = { leaseMs: 60_000, batchSize: 200 };

export interface RunFigures {
  claimed: number;
  committed: number;
  /** Runs whose lease another worker had taken by commit time: rolled back, nothing written. */
  lostLease: number;
  failed: number;
}

class LostLeaseError extends Error {}

/**
 * Runs due enrollments: claims a batch under a lease (FOR UPDATE SKIP LOCKED), loads the
 * facts of every subject in a few queries, asks the pure planner what happens next, and
 * writes each enrollment's new state with its effects in one transaction, fenced by the
 * lease. Effects are recorded under intent keys first and performed only when new, so a
 * retry, a crash or a second worker cannot repeat a send, a handoff or an attribute change.
 */
@Injectable()
export class ScenarioExecutor {
  private readonly versions = new Map<string, Promise<{ compiled: CompiledScenario; catalog: CatalogDefinition }>>();
  readonly owner = `worker-${randomUUID()}`;

  constructor(
    private readonly dataSource: DataSource,
    private readonly enrollments: EnrollmentsRepository,
    private readonly snapshots: FactSnapshotRepository,
    private readonly messages: MessageQueue,
    private readonly handoffs: HandoffsService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Runs one batch of due enrollments. */
  async runDue(
    options: ExecutorOptions = DEFAULT_EXECUTOR_OPTIONS,
    owner = this.owner,
    scenarioIds?: readonly string[],
  ): Promise<RunFigures> {
    const now = this.clock.now();
    // Enrollments of paused or unloaded scenarios are held: only the given scenarios run.
    const claimed = await this.enrollments.claimDue(owner, now, options.leaseMs, options.batchSize, scenarioIds);
    const figures: RunFigures = { claimed: claimed.length, committed: 0, lostLease: 0, failed: 0 };
    if (claimed.length === 0) return figures;

    const byVersion = new Map<string, ClaimedEnrollment[]>();
    for (const c of claimed) {
      const key = `${c.scenarioId}\u0000${c.versionHash}`;
      byVersion.set(key, [...(byVersion.get(key) ?? []), c]);
    }
    for (const group of byVersion.values()) {
      const first = group[0]!;
      const { compiled, catalog } = await this.version(first.scenarioId, first.versionHash);
      const settings = factSettingsFrom(this.config, catalog.page_groups);
      const expressions = [
        ...compiled.conditions.values(),
        ...(compiled.goal ? [compiled.goal.when] : []),
        ...(compiled.exitWhen ? [compiled.exitWhen] : []),
      ];
      const scope = compiled.definition.subject;
      const subjects = await this.snapshots.loadSubjects(
        scope,
        group.map((c) => (scope === 'contact' ? c.contactId! : c.accountId)),
        { now, requirements: requirementsOf(expressions) },
      );
      const bySubject = new Map<string, SubjectSnapshot>(
        subjects.map((s) => [scope === 'contact' ? s.contact!.id : s.account.id, s]),
      );
      const activity = await this.enrollments.activity(group.map((c) => c.state.id));
      const arrived = await this.enrollments.eventsArrived(
        options.replay ? now : undefined,
        group.flatMap((c) => {
          const w = c.state.waiting;
          return w?.kind === 'wait_for'
            ? [
                {
                  id: c.state.id,
                  accountId: c.accountId,
                  contactId: c.contactId,
                  type: w.event,
                  where: w.where,
                  since: w.since,
                },
              ]
            : [];
        }),
      );
      for (const enrollment of group) {
        try {
          const subject = bySubject.get(enrollment.contactId ?? enrollment.accountId);
          const seen = activity.get(enrollment.state.id);
          const eventArrived = arrived.has(enrollment.state.id);
          const result: AdvanceResult | undefined =
            subject === undefined
              ? undefined
              : advance({
                  scenario: compiled,
                  state: enrollment.state,
                  now,
                  eventArrived,
                  timeZone: subject.contact?.timeZone ?? subject.account.timeZone ?? this.config.defaults.timeZone,
                  facts: {
                    now,
                    settings,
                    account: subject.account,
                    contact: subject.contact,
                    enrollment: {
                      opened: (step) => seen?.opened.has(step) ?? false,
                      clicked: (step) => seen?.clicked.has(step) ?? false,
                    },
                  },
                });
          options.replay?.observe(enrollment, result, now);
          await this.commit(owner, enrollment, compiled, result, now, options.replay === undefined);
          figures.committed += 1;
        } catch (error: unknown) {
          if (error instanceof LostLeaseError) {
            figures.lostLease += 1;
          } else {
            figures.failed += 1;
            logger.error(
              { err: error, enrollment: enrollment.state.id, scenario: enrollment.scenarioId },
              'scenario step failed; the enrollment is retried when its lease expires',
            );
          }
        }
      }
    }
    return figures;
  }

  /** Runs batches until nothing is due. */
  async drain(
    options: ExecutorOptions = DEFAULT_EXECUTOR_OPTIONS,
    scenarioIds?: readonly string[],
  ): Promise<RunFigures> {
    const total: RunFigures = { claimed: 0, committed: 0, lostLease: 0, failed: 0 };
    for (;;) {
      const figures = await this.runDue(options, this.owner, scenarioIds);
      total.claimed += figures.claimed;
      total.committed += figures.committed;
      total.lostLease += figures.lostLease;
      total.failed += figures.failed;
      if (figures.claimed < options.batchSize || figures.committed === 0) return total;
    }
  }

  private async commit(
    owner: string,
    enrollment: ClaimedEnrollment,
    compiled: CompiledScenario,
    result: AdvanceResult | undefined,
    now: Date,
    performEffects: boolean,
  ): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      // The subject is gone (deleted): the enrollment ends.
      const outcome = result?.outcome ?? { kind: 'exited' as const, reason: 'subject_deleted' };
      const status: EnrollmentStatus =
        outcome.kind === 'waiting'
          ? 'active'
          : outcome.kind === 'converted'
            ? 'converted'
            : outcome.kind === 'completed'
              ? 'completed'
              : 'exited';
      const state = result?.state ?? enrollment.state;
      const variant = Object.values(state.assignments)[0] ?? null;
      const written = await this.enrollments.fencedUpdate(
        m,
        owner,
        {
          state,
          status,
          nextRunAt: outcome.kind === 'waiting' ? outcome.nextRunAt : null,
          exitReason: outcome.kind === 'exited' ? outcome.reason : outcome.kind === 'converted' ? 'goal' : null,
          variant,
        },
        now,
      );
      if (!written) throw new LostLeaseError();
      const effects = result?.effects ?? [];
      const fresh = await this.enrollments.recordEffects(
        m,
        enrollment.state.id,
        effects.map((e) => ({ intentKey: e.intentKey, kind: e.kind, stepId: e.stepId, payload: payloadOf(e) })),
        now,
      );
      if (!performEffects) return;
      for (const effect of effects) {
        if (fresh.has(effect.intentKey)) await this.perform(m, effect, enrollment, compiled.definition, now);
      }
    });
  }

  private async perform(
    m: EntityManager,
    effect: Effect,
    enrollment: ClaimedEnrollment,
    definition: ScenarioDefinition,
    now: Date,
  ): Promise<void> {
    switch (effect.kind) {
      case 'send': {
        const to = effect.to ?? 'contact';
        if (to === 'owner') {
          // Mail to the CSM is operational mail through the handoff side (issue #7).
          logger.warn({ scenario: definition.id, step: effect.stepId }, 'send to the owner CSM is not delivered yet');
          return;
        }
        const recipients =
          to === 'contact'
            ? enrollment.contactId === null
              ? []
              : [enrollment.contactId]
            : await this.enrollments.contactsWithRoles(m, enrollment.accountId, [to.role].flat());
        for (const contactId of recipients) {
          const intentKey = to === 'contact' ? effect.intentKey : `${effect.intentKey}:${contactId}`;
          const { message } = await this.messages.enqueue(m, {
            intentKey,
            contactId,
            template: effect.template,
            data: { ...(effect.data ?? {}) },
            holdDuringHandoff: definition.during_handoff !== 'send',
          });
          if (to === 'contact') {
            await this.enrollments.linkEffect(m, effect.intentKey, { messageId: message.id });
          } else {
            await this.enrollments.recordEffects(
              m,
              enrollment.state.id,
              [{ intentKey, kind: 'send', stepId: effect.stepId, payload: { recipient: contactId } }],
              now,
            );
            await this.enrollments.linkEffect(m, intentKey, { messageId: message.id });
          }
        }
        return;
      }
      case 'handoff': {
        // One open handoff per account and reason: a repeat joins the open one's history.
        const { id } = await this.handoffs.raise(
          m,
          {
            intentKey: effect.intentKey,
            accountId: enrollment.accountId,
            contactId: enrollment.contactId,
            reason: effect.handoff.reason,
            reasonText: definition.name,
            kind: effect.handoff.kind,
            priority: effect.handoff.priority,
            note: effect.handoff.note ?? null,
            source: 'scenario',
            scenarioId: definition.id,
            stepId: effect.stepId,
            enrollmentId: enrollment.state.id,
          },
          now,
        );
        await this.enrollments.linkEffect(m, effect.intentKey, { handoffId: id });
        return;
      }
      case 'set': {
        const target = effect.set.on === 'contact' ? enrollment.contactId : enrollment.accountId;
        if (target === null) return;
        const set = effect.set;
        if ('attribute' in set) await this.enrollments.setAttribute(m, set.on, target, set.attribute, set.value);
        else
          await this.enrollments.changeTag(m, set.on, target, 'tag' in set ? { add: set.tag } : { remove: set.untag });
        return;
      }
      case 'assign':
        return;
    }
  }

  /** A stored scenario version, compiled once per process. */
  private version(scenarioId: string, versionHash: string) {
    const key = `${scenarioId}\u0000${versionHash}`;
    let found = this.versions.get(key);
    if (!found) {
      found = (async () => {
        const rows: { definition: ScenarioDefinition; catalog: CatalogDefinition }[] = await this.dataSource.query(
          `SELECT definition, catalog FROM scenario_versions WHERE scenario_id = $1 AND version_hash = $2`,
          [scenarioId, versionHash],
        );
        const row = rows[0];
        if (!row) throw new Error(`scenario version ${scenarioId}@${versionHash} is not stored`);
        return { compiled: compileScenario(row.definition, versionHash, row.catalog), catalog: row.catalog };
      })();
      found.catch(() => this.versions.delete(key));
      this.versions.set(key, found);
    }
    return found;
  }
}

function payloadOf(effect: Effect): Record<string, unknown> {
  switch (effect.kind) {
    case 'send':
      return { template: effect.template, to: effect.to ?? 'contact', data: effect.data ?? {} };
    case 'handoff':
      return { ...effect.handoff };
    case 'set':
      return { ...effect.set };
    case 'assign':
      return { variant: effect.variant };
  }
}
