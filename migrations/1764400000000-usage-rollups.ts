import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Anything that runs SQL: a migration's QueryRunner, a DataSource, an EntityManager. */
interface SqlRunner {
  query(sql: string): Promise<unknown>;
}

/**
 * The rollup type of an event: its type, except email opens and clicks classified as
 * anything but 'human' (machine, bot), which roll up as `<type>.machine`, so counts of
 * `email.opened` and `email.clicked` are human ones only.
 */
export const ROLLUP_TYPE = `CASE WHEN e.type IN ('email.opened', 'email.clicked') AND e.props->>'classification' <> 'human'
                     THEN e.type || '.machine' ELSE e.type END`;

/** The UTC calendar day of an event. */
export const UTC_DAY = `(e.occurred_at AT TIME ZONE 'UTC')::date`;

/** Site section: the first segment of a page view's path, lowercased, at most 64 characters ('' for '/'). */
export const SECTION = `CASE WHEN e.type = 'site.page_viewed'
                     THEN left(lower(split_part(ltrim(coalesce(e.props->>'path', ''), '/'), '/', 1)), 64)
                     ELSE '' END`;

/** A visitor id in the canonical text form of a uuid (events.visitor_id is text; anything else is skipped). */
export const UUID_TEXT = `'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'`;

/**
 * The three grouped upserts that add the events of `source` (the events table, or the
 * trigger's transition table) to the rollups, one statement per rollup table. Each groups
 * by the table's primary key and inserts in primary-key order, so concurrent writers lock
 * rollup rows in one order (these tables in this order, keys sorted) and cannot deadlock
 * each other. Events naming an account or contact that does not exist are left out: events
 * carry no foreign keys, the rollups do, and a missing parent must not fail an ingest.
 */
export function rollupUpserts(source: string): string[] {
  return [
    `INSERT INTO account_daily_usage AS t (account_id, type, day, events)
       SELECT g.account_id, g.type, g.day, g.events
         FROM (SELECT e.account_id, ${ROLLUP_TYPE} AS type, ${UTC_DAY} AS day, count(*)::int AS events
                 FROM ${source} e
                WHERE e.account_id IS NOT NULL
                GROUP BY 1, 2, 3) g
         JOIN accounts a ON a.id = g.account_id
        ORDER BY g.account_id, g.type, g.day
       ON CONFLICT ON CONSTRAINT pk_account_daily_usage DO UPDATE SET events = t.events + EXCLUDED.events`,
    // account_id: the events' account (ingest checks that it is the contact's), else the contact's.
    `INSERT INTO contact_daily_usage AS t (contact_id, account_id, type, day, events)
       SELECT g.contact_id, coalesce(g.account_id, c.account_id), g.type, g.day, g.events
         FROM (SELECT e.contact_id, (array_agg(e.account_id) FILTER (WHERE e.account_id IS NOT NULL))[1] AS account_id,
                      ${ROLLUP_TYPE} AS type, ${UTC_DAY} AS day, count(*)::int AS events
                 FROM ${source} e
                WHERE e.contact_id IS NOT NULL
                GROUP BY e.contact_id, 3, 4) g
         JOIN contacts c ON c.id = g.contact_id
        ORDER BY g.contact_id, g.type, g.day
       ON CONFLICT ON CONSTRAINT pk_contact_daily_usage DO UPDATE SET events = t.events + EXCLUDED.events`,
    `INSERT INTO visitor_daily_site AS t (visitor_id, type, section, day, events)
       SELECT e.visitor_id::uuid, e.type, ${SECTION}, ${UTC_DAY}, count(*)::int
         FROM ${source} e
        WHERE e.type LIKE 'site.%' AND e.visitor_id ~ ${UUID_TEXT}
        GROUP BY 1, 2, 3, 4
        ORDER BY 1, 2, 3, 4
       ON CONFLICT ON CONSTRAINT pk_visitor_daily_site DO UPDATE SET events = t.events + EXCLUDED.events`,
  ];
}

/**
 * Adds every stored event to the rollups (the migration runs it on empty rollup tables;
 * tests run it again to check that it reproduces what the trigger maintained).
 */
export async function backfillUsageRollups(runner: SqlRunner): Promise<void> {
  for (const statement of rollupUpserts('events')) await runner.query(statement);
}

/**
 * Daily usage rollups, maintained from the append-only `events` log by a statement-level
 * trigger, so facts such as "logins in the last 14 days" read a few rows per day instead
 * of scanning events.
 *
 * The trigger sees only the rows its INSERT added (the transition table), so rows skipped
 * by `ON CONFLICT DO NOTHING` (a retried batch) are never counted twice, and a batch of
 * 1,000 events costs three grouped upserts. Rollups only grow: there is no DELETE trigger
 * on purpose. The tracking retention job deletes raw `source = 'tracking'` rows, and the
 * rollups must outlive them; only deleting an account or contact (cascade) removes its rows.
 *
 * The tables are filled to 70 % (fillfactor) so that the common write, adding to today's
 * row, can be a HOT update that leaves the primary key index alone (10-15 % cheaper updates).
 */
export class UsageRollups1764400000000 implements MigrationInterface {
  name = 'UsageRollups1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "account_daily_usage" ("account_id" uuid NOT NULL, "day" date NOT NULL, "type" text NOT NULL, "events" integer NOT NULL, CONSTRAINT "pk_account_daily_usage" PRIMARY KEY ("account_id", "type", "day"), CONSTRAINT "fk_account_daily_usage_account" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION) WITH (fillfactor = 70)`,
    );
    await queryRunner.query(
      `CREATE TABLE "contact_daily_usage" ("contact_id" uuid NOT NULL, "account_id" uuid NOT NULL, "day" date NOT NULL, "type" text NOT NULL, "events" integer NOT NULL, CONSTRAINT "pk_contact_daily_usage" PRIMARY KEY ("contact_id", "type", "day"), CONSTRAINT "fk_contact_daily_usage_contact" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE NO ACTION) WITH (fillfactor = 70)`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_contact_daily_usage_account_day" ON "contact_daily_usage" ("account_id", "day")`,
    );
    await queryRunner.query(
      `CREATE TABLE "visitor_daily_site" ("visitor_id" uuid NOT NULL, "day" date NOT NULL, "type" text NOT NULL, "section" text NOT NULL, "events" integer NOT NULL, CONSTRAINT "pk_visitor_daily_site" PRIMARY KEY ("visitor_id", "type", "section", "day")) WITH (fillfactor = 70)`,
    );
    await queryRunner.query(
      `CREATE FUNCTION "events_roll_up_usage"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Rollups only grow: raw events are deleted (tracking retention), their counts stay.
  ${rollupUpserts('new_events').join(';\n  ')};
  RETURN NULL;
END
$$`,
    );
    // Created before the backfill, in the same transaction: inserts waiting on this
    // trigger's lock are counted by the trigger, inserts committed before it by the backfill.
    await queryRunner.query(
      `CREATE TRIGGER "tr_events_roll_up_usage" AFTER INSERT ON "events" REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION "events_roll_up_usage"()`,
    );
    await backfillUsageRollups(queryRunner);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "tr_events_roll_up_usage" ON "events"`);
    await queryRunner.query(`DROP FUNCTION "events_roll_up_usage"()`);
    await queryRunner.query(`DROP TABLE "visitor_daily_site"`);
    await queryRunner.query(`DROP INDEX "public"."ix_contact_daily_usage_account_day"`);
    await queryRunner.query(`DROP TABLE "contact_daily_usage"`);
    await queryRunner.query(`DROP TABLE "account_daily_usage"`);
  }
}
