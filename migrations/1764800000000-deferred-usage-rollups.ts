import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ROLLUP_TYPE, rollupUpserts, SECTION, UTC_DAY, UUID_TEXT } from './1764400000000-usage-rollups';

/** The previous trigger body (1764400000000): three grouped upserts per inserted batch. Kept for `down`. */
const DIRECT_TRIGGER_BODY = `${rollupUpserts('new_events').join(';\n  ')};`;

/**
 * The new trigger body: the batch's counts, grouped, appended to `usage_rollup_deltas` (a
 * plain insert into a table without indexes: ~3 ms for 1,000 events, where the three
 * upserts cost 15-25 ms on the ingest path).
 */
const DELTA_TRIGGER_BODY = `
  INSERT INTO usage_rollup_deltas (kind, subject_id, account_id, type, section, day, events)
    SELECT 'account', e.account_id, e.account_id, ${ROLLUP_TYPE}, '', ${UTC_DAY}, count(*)::int
      FROM new_events e WHERE e.account_id IS NOT NULL GROUP BY 2, 4, 6
    UNION ALL
    SELECT 'contact', e.contact_id, (array_agg(e.account_id) FILTER (WHERE e.account_id IS NOT NULL))[1],
           ${ROLLUP_TYPE}, '', ${UTC_DAY}, count(*)::int
      FROM new_events e WHERE e.contact_id IS NOT NULL GROUP BY 2, 4, 6
    UNION ALL
    SELECT 'visitor', e.visitor_id::uuid, NULL, e.type, ${SECTION}, ${UTC_DAY}, count(*)::int
      FROM new_events e WHERE e.type LIKE 'site.%' AND e.visitor_id ~ ${UUID_TEXT}
     GROUP BY 2, 4, 5, 6;`;

/**
 * Moves every pending delta into the rollups in one statement (DELETE ... RETURNING feeding
 * three grouped upserts), so a delta is counted exactly once: concurrent folds take disjoint
 * rows (a row another fold deleted is skipped once it commits), and upserts go in primary-key
 * order, so they cannot deadlock. Deltas naming an account or contact that no longer exists
 * are dropped (the rollups have foreign keys, the events log does not). Returns the number of
 * delta rows folded.
 */
const FOLD_FUNCTION = `
CREATE FUNCTION "usage_rollups_fold"() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE folded integer;
BEGIN
  WITH d AS (DELETE FROM usage_rollup_deltas RETURNING *),
  a AS (
    INSERT INTO account_daily_usage AS t (account_id, type, day, events)
      SELECT d.subject_id, d.type, d.day, sum(d.events)::int
        FROM d JOIN accounts x ON x.id = d.subject_id
       WHERE d.kind = 'account'
       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT ON CONSTRAINT pk_account_daily_usage DO UPDATE SET events = t.events + EXCLUDED.events
    ),
  c AS (
    INSERT INTO contact_daily_usage AS t (contact_id, account_id, type, day, events)
      SELECT d.subject_id, coalesce((array_agg(d.account_id) FILTER (WHERE d.account_id IS NOT NULL))[1], min(x.account_id::text)::uuid),
             d.type, d.day, sum(d.events)::int
        FROM d JOIN contacts x ON x.id = d.subject_id
       WHERE d.kind = 'contact'
       GROUP BY d.subject_id, d.type, d.day ORDER BY 1, 3, 4
      ON CONFLICT ON CONSTRAINT pk_contact_daily_usage DO UPDATE SET events = t.events + EXCLUDED.events
    ),
  v AS (
    INSERT INTO visitor_daily_site AS t (visitor_id, type, section, day, events)
      SELECT d.subject_id, d.type, d.section, d.day, sum(d.events)::int
        FROM d WHERE d.kind = 'visitor'
       GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
      ON CONFLICT ON CONSTRAINT pk_visitor_daily_site DO UPDATE SET events = t.events + EXCLUDED.events
    )
  -- Data-modifying CTEs always run to completion, read or not.
  SELECT count(*) INTO folded FROM d;
  RETURN folded;
END
$$`;

function triggerFunction(body: string): string {
  return `CREATE OR REPLACE FUNCTION "events_roll_up_usage"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Rollups only grow: raw events are deleted (tracking retention), their counts stay.
  ${body}
  RETURN NULL;
END
$$`;
}

/**
 * Usage rollups leave the ingest path: the statement trigger on `events` appends the batch's
 * grouped counts to `usage_rollup_deltas`, and `usage_rollups_fold()` moves them into the
 * rollup tables. The worker folds every second (scenario runtime tick) and readers that need
 * exact counts fold first (the scenario explainer); the rollups lag the log by about a
 * second at most while a worker runs. Folding many batches at once also merges their keys:
 * today's (account, type) row is updated once per fold instead of once per batch.
 */
export class DeferredUsageRollups1764800000000 implements MigrationInterface {
  name = 'DeferredUsageRollups1764800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "usage_rollup_deltas" ("kind" text NOT NULL, "subject_id" uuid NOT NULL, "account_id" uuid, "type" text NOT NULL, "section" text NOT NULL DEFAULT '', "day" date NOT NULL, "events" integer NOT NULL, CONSTRAINT "ck_usage_rollup_deltas_kind" CHECK ("kind" IN ('account', 'contact', 'visitor')))`,
    );
    await queryRunner.query(FOLD_FUNCTION);
    await queryRunner.query(triggerFunction(DELTA_TRIGGER_BODY));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // No ingest may append deltas between the fold and the drop (they would be lost).
    await queryRunner.query(`LOCK TABLE "events" IN SHARE MODE`);
    await queryRunner.query(triggerFunction(DIRECT_TRIGGER_BODY));
    await queryRunner.query(`SELECT "usage_rollups_fold"()`);
    await queryRunner.query(`DROP FUNCTION "usage_rollups_fold"()`);
    await queryRunner.query(`DROP TABLE "usage_rollup_deltas"`);
  }
}
