import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { watch, type FSWatcher } from 'node:fs';
import { Clock } from '../../common/clock';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { UsageRollups } from '../../metrics/usage-rollups.service';
import { type ExecutorOptions, ScenarioExecutor } from './scenario-executor';
import { ScenarioRegistry } from './scenario-registry.service';
import { ScenarioTriggers } from './scenario-triggers.service';

/**
 * The scenario runtime's loop (worker role): loads the scenarios at start and again when a
 * file changes, scans event triggers and awaited events (wait_for) every second (an event
 * enrolls, or ends a wait, within a few seconds of its arrival), checks scheduled
 * conditions, dates, segments and goals every 30 s, and runs due steps. Every part
 * is safe with several instances: checks are claimed, enrollment is idempotent, due work
 * is leased.
 */
@Injectable()
export class ScenarioWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private running = false;
  private stopping = false;
  private lastConditionScan = 0;
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: ScenarioRegistry,
    private readonly triggers: ScenarioTriggers,
    private readonly executor: ScenarioExecutor,
    private readonly rollups: UsageRollups,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Batch size and lease of due work (SCENARIO_BATCH_SIZE, SCENARIO_LEASE_MS). */
  private get executorOptions(): ExecutorOptions {
    return { leaseMs: this.config.scenarioRuntime.leaseMs, batchSize: this.config.scenarioRuntime.batchSize };
  }

  onApplicationBootstrap(): void {
    // The registry loaded the scenarios at start; watch for changes.
    try {
      this.watcher = watch(this.registry.dir, () => this.scheduleReload());
      this.watcher.on('error', () => undefined);
    } catch {
      // No scenarios folder: nothing to watch (reload on request still works).
    }
  }

  /** Many file events arrive for one save: reload once, shortly after the last. */
  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.registry.reload().catch((error: unknown) => logger.error({ err: error }, 'scenario reload failed'));
    }, 300);
    this.reloadTimer.unref();
  }

  @Interval('scenario-runtime', 1000)
  async tick(): Promise<void> {
    if (this.running || this.stopping) return;
    this.running = true;
    try {
      // Usage ingested since the last tick goes into the rollups first: the scans and steps
      // below read it (an event trigger's audience counts the triggering event itself).
      await this.foldUsage();
      const active = this.registry.active();
      if (active.length === 0) return;
      await this.triggers.scanEvents(active);
      await this.triggers.scanArrivals();
      // Scheduled scans every 30 s of the injected clock (a virtual clock moves them too); a
      // clock that went backwards (tests, a corrected host clock) scans again at once.
      const now = this.clock.now().getTime();
      if (Math.abs(now - this.lastConditionScan) >= 30_000) {
        this.lastConditionScan = now;
        await this.registry.migratePending();
        await this.triggers.scanConditions(active);
        await this.triggers.scanDates(active);
        await this.triggers.scanSegments(active);
        await this.triggers.scanGoals(active);
      }
      const started = Date.now();
      const figures = await this.executor.drain(
        this.executorOptions,
        active.map((s) => s.compiled.id),
      );
      // One line per drain that found work: which worker ran how many steps (several instances share them).
      if (figures.claimed > 0) {
        logger.info({ owner: this.executor.owner, ...figures, ms: Date.now() - started }, 'scenario steps run');
      }
    } catch (error: unknown) {
      logger.error({ err: error }, 'scenario runtime tick failed');
    } finally {
      this.running = false;
    }
  }

  private async foldUsage(): Promise<void> {
    try {
      await this.rollups.fold();
    } catch (error: unknown) {
      // Facts may then miss the last second of usage; the tick goes on (the next one folds).
      logger.warn({ err: error }, 'usage rollup fold failed; retried next tick');
    }
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
  }
}
