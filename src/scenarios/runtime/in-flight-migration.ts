import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { logger } from '../../common/logger';
import { type CompiledScenario, compileScenario } from '../core/runtime/compiled-scenario';
import { migrateState } from '../core/runtime/migrate-state';
import type { EnrollmentState } from '../core/runtime/planner';
import type { CatalogDefinition, ScenarioDefinition } from '../core/scenario.schema';
import { type RawEnrollment, toClaimed } from './enrollments.repository';

export interface MigrationFigures {
  moved: number;
  /** Their step is gone from the new version: they finish on the version they entered with. */
  pinned: number;
  /** Leased or locked by a worker at that moment: moved at a later pass. */
  busy: number;
}

const BATCH = 1_000;

/**
 * Moves the active enrollments of a scenario that declares `migrate_in_flight: true` to
 * its current version, by step id (see migrate-state.ts). Rows are locked with FOR UPDATE
 * SKIP LOCKED and leased rows are left alone, so a worker running an enrollment never has
 * it changed under it; those are moved at the next pass.
 */
@Injectable()
export class InFlightMigration {
  constructor(private readonly dataSource: DataSource) {}

  async migrate(to: CompiledScenario, now: Date): Promise<MigrationFigures> {
    const figures: MigrationFigures = { moved: 0, pinned: 0, busy: 0 };
    const versions: { version_hash: string; definition: ScenarioDefinition; catalog: CatalogDefinition }[] =
      await this.dataSource.query(
        `SELECT v.version_hash, v.definition, v.catalog FROM scenario_versions v
          WHERE v.scenario_id = $1 AND v.version_hash <> $2
            AND EXISTS (SELECT 1 FROM enrollments e
                         WHERE e.scenario_id = v.scenario_id AND e.version_hash = v.version_hash AND e.state = 'active')`,
        [to.id, to.versionHash],
      );
    for (const version of versions) {
      const from = compileScenario(version.definition, version.version_hash, version.catalog);
      let after = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        const batch = await this.dataSource.transaction(async (m) => {
          const rows: (RawEnrollment & { leased: boolean })[] = await m.query(
            `SELECT e.id, e.scenario_id, e.version_hash, e.subject_kind, e.account_id, e.contact_id, e.cursor,
                    e.waiting, e.assignments, e.visits, e.entered_at,
                    (e.lease_until IS NOT NULL AND e.lease_until >= $4) AS leased
               FROM enrollments e
              WHERE e.scenario_id = $1 AND e.version_hash = $2 AND e.state = 'active' AND e.id > $3
              ORDER BY e.id LIMIT ${BATCH}
                FOR UPDATE SKIP LOCKED`,
            [to.id, from.versionHash, after, now.toISOString()],
          );
          const moves: { id: string; state: EnrollmentState; runNow: boolean }[] = [];
          for (const row of rows) {
            if (row.leased) {
              figures.busy += 1;
              continue;
            }
            const decision = migrateState(from, to, toClaimed(row).state);
            if (decision.kind === 'pinned') figures.pinned += 1;
            else moves.push({ id: row.id, state: decision.state, runNow: decision.runNow });
          }
          if (moves.length > 0) {
            await m.query(
              `UPDATE enrollments e
                  SET version_hash = $2, cursor = u.cursor, waiting = u.waiting, assignments = u.assignments,
                      visits = u.visits, next_run_at = CASE WHEN u."runNow" THEN $3::timestamptz ELSE e.next_run_at END
                 FROM json_to_recordset($1::json) AS u(id uuid, cursor int, waiting jsonb, assignments jsonb,
                      visits jsonb, "runNow" boolean)
                WHERE e.id = u.id AND e.state = 'active'`,
              [
                JSON.stringify(
                  moves.map((x) => ({
                    id: x.id,
                    cursor: x.state.cursor,
                    waiting: x.state.waiting ?? null,
                    assignments: x.state.assignments,
                    visits: x.state.visits,
                    runNow: x.runNow,
                  })),
                ),
                to.versionHash,
                now.toISOString(),
              ],
            );
            figures.moved += moves.length;
          }
          return rows;
        });
        if (batch.length < BATCH) break;
        after = batch[batch.length - 1]!.id;
      }
    }
    if (versions.length > 0) {
      // Rows a worker had locked were skipped without being seen: count what is left.
      const [left] = await this.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM enrollments WHERE scenario_id = $1 AND version_hash <> $2 AND state = 'active'`,
        [to.id, to.versionHash],
      );
      figures.busy = Math.max(figures.busy, (left?.n ?? 0) - figures.pinned);
    }
    if (versions.length > 0)
      logger.info({ scenario: to.id, version: to.versionHash, ...figures }, 'in-flight enrollments migrated');
    return figures;
  }
}
