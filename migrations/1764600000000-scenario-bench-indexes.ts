import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Event triggers find what arrived since their last scan (`events.received_at >= $since`,
 * every second per event-triggered scenario). Without an index on `received_at` that is a
 * sequential scan of the whole events log each time: 1.0-1.6 s a scan at 20M events (issue #6
 * benchmark), growing with the log. `received_at` only grows, so the index is appended at its
 * right edge: cheap to keep on ingest.
 *
 * On a large existing `events` table, build it beforehand with
 * `CREATE INDEX CONCURRENTLY "ix_events_received" ON "events" ("received_at")`: this migration
 * then finds it (IF NOT EXISTS) instead of blocking ingest while it builds.
 */
export class ScenarioBenchIndexes1764600000000 implements MigrationInterface {
  name = 'ScenarioBenchIndexes1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS "ix_events_received" ON "events" ("received_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_events_received"`);
  }
}
