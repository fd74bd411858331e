import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { Clock } from '../../common/clock';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { HandoffsService } from '../../handoffs/handoffs.service';
import { type EnqueueRequest, MessageQueue } from '../../messaging/send/message-queue.service';
import { factSettingsFrom } from '../../metrics/fact-settings';
import { FactSnapshotRepository, type SubjectSnapshot } from '../../metrics/fact-snapshot.repository';
import { requirementsOf } from '../core/expression';
import { type CompiledScenario, compileScenario } from '../core/runtime/compiled-scenario';
import { advance, type AdvanceResult, type Effect } from '../core/runtime/planner';
import type { CatalogDefinition, ScenarioDefinition } from '../core/scenario.schema';
import {
  type ClaimedEnrollment,
  type EnrollmentStatus,
  EnrollmentsRepository,
  type EffectLink,
  type EffectRecord,
  type EnrollmentUpdate,
} from './enrollments.repository';

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

/** One enrollment's run as the planner decided it, before it is written. */
interface PlannedRun {
  enrollment: ClaimedEnrollment;
  definition: ScenarioDefinition;
  /** Undefined: the subject is gone (deleted) and the enrollment ends. */
  result: AdvanceResult | undefined;
}

interface SendIntent {
  request: EnqueueRequest;
  /** A send by role records an effect per recipient. */
  recipientEffect?: EffectRecord;
}

function updateOf({ enrollment, result }: PlannedRun): EnrollmentUpdate {
  const outcome = result?.outcome ?? { kind: 'exited' as const, reason: 'subject_deleted' };
  // The outcomes that end a journey are named as the statuses they leave.
  const status: EnrollmentStatus = outcome.kind === 'waiting' ? 'active' : outcome.kind;
  const state = result?.state ?? enrollment.state;
  return {
    state,
    status,
    nextRunAt: outcome.kind === 'waiting' ? outcome.nextRunAt : null,
    exitReason: outcome.kind === 'exited' ? outcome.reason : outcome.kind === 'converted' ? 'goal' : null,
    variant: Object.values(state.assignments)[0] ?? null,
  };
}

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
    const runs: PlannedRun[] = [];
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
      // Opens and clicks of earlier sends: an enrollment that never ran a step has none.
      const activity = await this.enrollments.activity(
        group.filter((c) => Object.keys(c.state.visits).length > 0).map((c) => c.state.id),
      );
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
          const result: AdvanceResult | undefined =
            subject === undefined
              ? undefined
              : advance({
                  scenario: compiled,
                  state: enrollment.state,
                  now,
                  eventArrived: arrived.has(enrollment.state.id),
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
          runs.push({ enrollment, definition: compiled.definition, result });
        } catch (error: unknown) {
          figures.failed += 1;
          this.logFailure(error, enrollment);
        }
      }
    }

    const perform = options.replay === undefined;
    try {
      // The whole batch in one transaction, a few set-based statements.
      const written = await this.commit(owner, runs, now, perform);
      figures.committed += written;
      figures.lostLease += runs.length - written;
    } catch (batchError: unknown) {
      // One run broke the batch (an unknown contact or template...): commit each on its own,
      // so only that one waits for its lease to expire and is retried.
      logger.warn({ err: batchError, runs: runs.length }, 'scenario batch failed; committing its runs one by one');
      for (const run of runs) {
        try {
          const written = await this.commit(owner, [run], now, perform);
          figures.committed += written;
          figures.lostLease += 1 - written;
        } catch (error: unknown) {
          figures.failed += 1;
          this.logFailure(error, run.enrollment);
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

  /**
   * Writes runs in one transaction: their new states in one fenced statement (a run whose
   * lease another worker took is left out, nothing of it written), their effects under
   * intent keys, then performs the effects that were new (sends as one batch of messages).
   * Returns how many runs were written.
   */
  private async commit(
    owner: string,
    runs: readonly PlannedRun[],
    now: Date,
    performEffects: boolean,
  ): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const written = await this.enrollments.fencedUpdate(m, owner, runs.map(updateOf), now);
      const kept = runs.filter((r) => written.has(r.enrollment.state.id));
      const fresh = await this.enrollments.recordEffects(
        m,
        kept.flatMap(({ enrollment, result }) =>
          (result?.effects ?? []).map((e) => ({
            intentKey: e.intentKey,
            enrollmentId: enrollment.state.id,
            kind: e.kind,
            stepId: e.stepId,
            payload: payloadOf(e),
          })),
        ),
        now,
      );
      if (!performEffects) return kept.length;
      const sends: SendIntent[] = [];
      const links: EffectLink[] = [];
      for (const { enrollment, definition, result } of kept) {
        for (const effect of result?.effects ?? []) {
          if (!fresh.has(effect.intentKey)) continue;
          if (effect.kind === 'send') sends.push(...(await this.sendsOf(m, effect, enrollment, definition)));
          else {
            const link = await this.perform(m, effect, enrollment, definition, now);
            if (link) links.push(link);
          }
        }
      }
      // A send to several contacts (by role) records one effect per recipient under its own key.
      await this.enrollments.recordEffects(
        m,
        sends.flatMap((s) => (s.recipientEffect ? [s.recipientEffect] : [])),
        now,
      );
      const messageIds = await this.messages.enqueueMany(
        m,
        sends.map((s) => s.request),
      );
      for (const { request } of sends) {
        const messageId = messageIds.get(request.intentKey);
        if (messageId) links.push({ intentKey: request.intentKey, messageId });
      }
      await this.enrollments.linkEffects(m, links);
      return kept.length;
    });
  }

  /** The messages a send effect makes: to the subject contact, or to each contact of the account with a role. */
  private async sendsOf(
    m: EntityManager,
    effect: Extract<Effect, { kind: 'send' }>,
    enrollment: ClaimedEnrollment,
    definition: ScenarioDefinition,
  ): Promise<SendIntent[]> {
    const to = effect.to ?? 'contact';
    if (to === 'owner') {
      // The validator refuses it (the owner CSM is told through a handoff); a version stored before that sends nothing.
      logger.warn(
        { scenario: definition.id, step: effect.stepId },
        'send to the owner CSM skipped: use a handoff step',
      );
      return [];
    }
    const request = (intentKey: string, contactId: string): EnqueueRequest => ({
      intentKey,
      contactId,
      template: effect.template,
      data: { ...(effect.data ?? {}) },
      holdDuringHandoff: definition.during_handoff !== 'send',
    });
    if (to === 'contact') {
      return enrollment.contactId === null ? [] : [{ request: request(effect.intentKey, enrollment.contactId) }];
    }
    const recipients = await this.enrollments.contactsWithRoles(m, enrollment.accountId, [to.role].flat());
    return recipients.map((contactId) => {
      const intentKey = `${effect.intentKey}:${contactId}`;
      return {
        request: request(intentKey, contactId),
        recipientEffect: {
          intentKey,
          enrollmentId: enrollment.state.id,
          kind: 'send',
          stepId: effect.stepId,
          payload: { recipient: contactId },
        },
      };
    });
  }

  /** Performs a handoff or attribute effect; returns what the effect record links to. */
  private async perform(
    m: EntityManager,
    effect: Exclude<Effect, { kind: 'send' }>,
    enrollment: ClaimedEnrollment,
    definition: ScenarioDefinition,
    now: Date,
  ): Promise<EffectLink | undefined> {
    switch (effect.kind) {
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
        return { intentKey: effect.intentKey, handoffId: id };
      }
      case 'set': {
        const target = effect.set.on === 'contact' ? enrollment.contactId : enrollment.accountId;
        if (target === null) return undefined;
        const set = effect.set;
        if ('attribute' in set) await this.enrollments.setAttribute(m, set.on, target, set.attribute, set.value);
        else
          await this.enrollments.changeTag(m, set.on, target, 'tag' in set ? { add: set.tag } : { remove: set.untag });
        return undefined;
      }
      case 'assign':
        return undefined;
    }
  }

  private logFailure(error: unknown, enrollment: ClaimedEnrollment): void {
    logger.error(
      { err: error, enrollment: enrollment.state.id, scenario: enrollment.scenarioId },
      'scenario step failed; the enrollment is retried when its lease expires',
    );
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
