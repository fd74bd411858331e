import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { factSettingsFrom } from '../../metrics/fact-settings';
import { FactSnapshotRepository } from '../../metrics/fact-snapshot.repository';
import { UsageRollups } from '../../metrics/usage-rollups.service';
import { evaluateCondition, requirementsOf } from '../core/expression';
import { analyzeWithCatalog } from '../core/scenario-expressions';
import type { ScenarioDefinition } from '../core/scenario.schema';
import { ScenarioRegistry } from './scenario-registry.service';
import { audienceParts } from './scenario-triggers.service';

export interface Explanation {
  scenario: { id: string; version: string; status: string; trigger: string };
  subject: { kind: 'contact' | 'account'; externalId: string };
  /** Each audience condition and the trigger's condition(s), and whether each holds now. */
  checks: { part: 'audience' | 'trigger'; condition: string; holds: boolean }[];
  /** Whether the subject would be selected now (the audience holds, and the trigger's condition). Event triggers also need the Nth event. */
  matchesNow: boolean;
  /** Its enrollments in this scenario, newest first, with why they started and how they ended. */
  enrollments: {
    enteredAt: Date;
    state: string;
    version: string;
    entryReason: Record<string, unknown>;
    exitReason: string | null;
    variant: string | null;
  }[];
}

/** "Why did this contact enter, or not?": the scenario's conditions evaluated for one subject now. */
@Injectable()
export class ScenarioExplainer {
  constructor(
    private readonly registry: ScenarioRegistry,
    private readonly snapshots: FactSnapshotRepository,
    private readonly rollups: UsageRollups,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async explain(scenarioId: string, externalId: string): Promise<Explanation> {
    const loaded = this.registry.all().find((s) => s.compiled.id === scenarioId);
    if (!loaded) throw new DomainError(ErrorCode.NotFound, `No scenario ${scenarioId} is loaded`);
    const definition = loaded.compiled.definition;
    const table = definition.subject === 'contact' ? 'contacts' : 'accounts';
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM ${table} WHERE external_id = $1`, [
      externalId,
    ]);
    const id = rows[0]?.id;
    if (id === undefined) throw new DomainError(ErrorCode.NotFound, `No ${definition.subject} ${externalId}`);
    // Exact usage counts: fold what ingest appended since the worker's last fold.
    await this.rollups.fold();
    const now = this.clock.now();
    const audience = audienceParts(definition);
    const audienceCount = audience.length;
    const texts = [...audience, ...triggerCondition(definition)];
    const checked = texts.map((text) => {
      const analyzed = analyzeWithCatalog(text, loaded.catalog, { scope: definition.subject, context: 'population' });
      if (!analyzed.checked) throw new Error(`${scenarioId}: ${analyzed.issues.map((i) => i.message).join('; ')}`);
      return { text, checked: analyzed.checked };
    });
    const [subject] = await this.snapshots.loadSubjects(definition.subject, [id], {
      now,
      requirements: requirementsOf(checked.map((c) => c.checked)),
    });
    if (!subject) throw new DomainError(ErrorCode.NotFound, `No ${definition.subject} ${externalId}`);
    const ctx = {
      now,
      settings: factSettingsFrom(this.config, loaded.catalog.page_groups),
      account: subject.account,
      contact: subject.contact,
      enrollment: undefined,
    };
    // A date trigger counts days on the recipient's calendar: a contact's own zone first.
    const recipientZone = subject.contact?.timeZone ?? subject.account.timeZone;
    const triggerCtx =
      'date' in definition.trigger ? { ...ctx, account: { ...subject.account, timeZone: recipientZone } } : ctx;
    const checks = checked.map((c, i) => {
      const part = i < audienceCount ? ('audience' as const) : ('trigger' as const);
      return { part, condition: c.text, holds: evaluateCondition(c.checked, part === 'audience' ? ctx : triggerCtx) };
    });
    const audienceHolds = checks.filter((c) => c.part === 'audience').every((c) => c.holds);
    const triggerChecks = checks.filter((c) => c.part === 'trigger');
    // A date trigger enrolls on any of its offsets; a condition or segment trigger when it holds.
    const triggerHolds =
      triggerChecks.length === 0 ||
      ('date' in definition.trigger ? triggerChecks.some((c) => c.holds) : triggerChecks.every((c) => c.holds));
    const enrollments: {
      entered_at: Date;
      state: string;
      version_hash: string;
      entry_reason: Record<string, unknown>;
      exit_reason: string | null;
      variant: string | null;
    }[] = await this.dataSource.query(
      `SELECT entered_at, state, version_hash, entry_reason, exit_reason, variant FROM enrollments
        WHERE scenario_id = $1 AND ${definition.subject === 'contact' ? 'contact_id' : 'account_id'} = $2
        ORDER BY entered_at DESC LIMIT 50`,
      [scenarioId, id],
    );
    return {
      scenario: {
        id: scenarioId,
        version: loaded.compiled.versionHash,
        status: definition.status,
        trigger: Object.keys(definition.trigger)[0] ?? 'unknown',
      },
      subject: { kind: definition.subject, externalId },
      checks,
      matchesNow: audienceHolds && triggerHolds,
      enrollments: enrollments.map((e) => ({
        enteredAt: e.entered_at,
        state: e.state,
        version: e.version_hash,
        entryReason: e.entry_reason,
        exitReason: e.exit_reason,
        variant: e.variant,
      })),
    };
  }
}

function triggerCondition(definition: ScenarioDefinition): string[] {
  const trigger = definition.trigger;
  if ('condition' in trigger) return [trigger.condition.when];
  if ('date' in trigger)
    return trigger.date.offsets.map((o) => `days_until(${trigger.date.fact}) == ${-Number(o.replace(/d$/, ''))}`);
  if ('segment' in trigger) return [`segment('${trigger.segment.entered}')`];
  return [];
}
