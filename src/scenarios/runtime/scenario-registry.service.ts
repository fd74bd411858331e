import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Clock } from '../../common/clock';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { logger } from '../../common/logger';
import { type CompiledScenario, compileScenario } from '../core/runtime/compiled-scenario';
import type { CatalogDefinition } from '../core/scenario.schema';
import { formatIssue } from '../core/yaml-source';
import { validateScenarioPaths } from '../scenario-files';
import { EnrollmentsRepository } from './enrollments.repository';
import { InFlightMigration } from './in-flight-migration';

export interface LoadedScenario {
  compiled: CompiledScenario;
  catalog: CatalogDefinition;
  file: string;
}

export interface ReloadReport {
  loaded: { id: string; version: string; status: string }[];
  /** `file:line:col: message` of every problem; those files keep their previous valid version. */
  problems: string[];
}

/**
 * The scenarios this process runs: read from `scenarios/` at start and on reload, each
 * valid version stored (enrollments keep the version they entered with). A file that
 * turns invalid is reported and its previous valid version keeps running.
 */
@Injectable()
export class ScenarioRegistry implements OnApplicationBootstrap {
  private readonly byFile = new Map<string, LoadedScenario>();
  private readonly templatesDir = join(process.cwd(), 'templates');
  /** Scenarios (by id) with in-flight enrollments a worker held while they were being moved. */
  private readonly migrationPending = new Set<string>();

  constructor(
    private readonly enrollments: EnrollmentsRepository,
    private readonly migration: InFlightMigration,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  get dir(): string {
    return this.config.scenariosDir;
  }

  /** Every role loads the scenarios at start (the api to explain them, the worker to run them). */
  async onApplicationBootstrap(): Promise<void> {
    await this.reload();
  }

  /** Every scenario currently loaded, by id. */
  all(): LoadedScenario[] {
    return [...this.byFile.values()];
  }

  /** The running scenarios (status active). */
  active(): LoadedScenario[] {
    return this.all().filter((s) => s.compiled.definition.status === 'active');
  }

  async reload(dir = this.config.scenariosDir): Promise<ReloadReport> {
    if (!existsSync(dir)) {
      if (this.byFile.size > 0) logger.warn({ dir }, 'scenarios folder is gone: its scenarios are held');
      this.byFile.clear();
      return { loaded: [], problems: [] };
    }
    const result = validateScenarioPaths({ paths: [dir], templatesDir: this.templatesDir });
    const problems = result.issues.map(formatIssue);
    for (const problem of problems)
      logger.warn({ problem }, 'scenario file not loaded; its previous valid version keeps running');
    const now = this.clock.now();
    const seen = new Set<string>();
    for (const scenario of result.scenarios) {
      seen.add(scenario.file);
      const previous = this.byFile.get(scenario.file);
      if (previous?.compiled.versionHash === scenario.versionHash) continue;
      await this.enrollments.saveVersion(scenario.definition, scenario.versionHash, result.catalog, scenario.file, now);
      this.byFile.set(scenario.file, {
        compiled: compileScenario(scenario.definition, scenario.versionHash, result.catalog),
        catalog: result.catalog,
        file: scenario.file,
      });
      logger.info(
        { scenario: scenario.definition.id, version: scenario.versionHash, status: scenario.definition.status },
        previous ? 'scenario updated' : 'scenario loaded',
      );
      if (scenario.definition.status === 'archived') {
        const exited = await this.enrollments.exitAll(scenario.definition.id, 'archived', now);
        logger.info({ scenario: scenario.definition.id, exited }, 'scenario archived: its enrollments exited');
      } else if (scenario.definition.migrate_in_flight) {
        await this.migrateInFlight(this.byFile.get(scenario.file)!.compiled, now);
      }
    }
    // A file that disappeared stops enrolling (its enrollments are held, not exited: deleting
    // a file by mistake must not end journeys; `status: paused` says so explicitly).
    for (const file of [...this.byFile.keys()]) {
      const stillInvalid = problems.some((p) => p.startsWith(`${file}:`));
      if (!seen.has(file) && !stillInvalid) {
        logger.warn({ file }, 'scenario file removed: its enrollments are held');
        this.byFile.delete(file);
      }
    }
    return {
      loaded: this.all().map((s) => ({
        id: s.compiled.id,
        version: s.compiled.versionHash,
        status: s.compiled.definition.status,
      })),
      problems,
    };
  }

  /** Moves in-flight enrollments that a worker held at the last pass (the worker calls this periodically). */
  async migratePending(): Promise<void> {
    const now = this.clock.now();
    for (const loaded of this.all()) {
      if (this.migrationPending.has(loaded.compiled.id)) await this.migrateInFlight(loaded.compiled, now);
    }
  }

  private async migrateInFlight(compiled: CompiledScenario, now: Date): Promise<void> {
    const figures = await this.migration.migrate(compiled, now);
    if (figures.busy > 0) this.migrationPending.add(compiled.id);
    else this.migrationPending.delete(compiled.id);
  }
}
