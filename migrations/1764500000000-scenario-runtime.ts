import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The scenario runtime's state (issue #6).
 *
 * - `scenario_versions`: every valid version of a scenario file that was loaded, by content
 *   hash; an enrollment keeps the version it entered with.
 * - `enrollments`: one subject's journey through one scenario version. `entry_key` +
 *   `occurrence_key` make entry idempotent (a trigger that fires twice, or two instances
 *   scanning at once, enroll once). Due work is `state = 'active'` with `next_run_at`,
 *   claimed with FOR UPDATE SKIP LOCKED under a lease (`lease_owner`, `lease_until`).
 * - `enrollment_effects`: every effect (send, handoff, set, assignment) under its intent key,
 *   written in the same transaction as the enrollment's new state: a retry, a crash or a
 *   second worker cannot repeat it.
 * - `handoffs`: records created by handoff steps (the CSM side builds on them).
 *
 * Plain SQL tables (no TypeORM entities): the runtime reads and writes them with set-based
 * statements only.
 */
export class ScenarioRuntime1764500000000 implements MigrationInterface {
  name = 'ScenarioRuntime1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "scenario_versions" ("scenario_id" text NOT NULL, "version_hash" text NOT NULL, "definition" jsonb NOT NULL, "catalog" jsonb NOT NULL, "file" text NOT NULL, "loaded_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_scenario_versions" PRIMARY KEY ("scenario_id", "version_hash"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "enrollments" ("id" uuid NOT NULL, "scenario_id" text NOT NULL, "version_hash" text NOT NULL, "subject_kind" text NOT NULL, "account_id" uuid NOT NULL, "contact_id" uuid, "entry_key" text NOT NULL, "occurrence_key" text NOT NULL, "state" text NOT NULL, "cursor" integer, "waiting" jsonb, "assignments" jsonb NOT NULL DEFAULT '{}', "visits" jsonb NOT NULL DEFAULT '{}', "variant" text, "next_run_at" TIMESTAMP WITH TIME ZONE, "lease_owner" text, "lease_until" TIMESTAMP WITH TIME ZONE, "entered_at" TIMESTAMP WITH TIME ZONE NOT NULL, "ended_at" TIMESTAMP WITH TIME ZONE, "converted_at" TIMESTAMP WITH TIME ZONE, "exit_reason" text, "entry_reason" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "pk_enrollments" PRIMARY KEY ("id"), CONSTRAINT "uq_enrollments_entry" UNIQUE ("scenario_id", "entry_key", "occurrence_key"), CONSTRAINT "ck_enrollments_subject_kind" CHECK ("subject_kind" IN ('contact', 'account')), CONSTRAINT "ck_enrollments_subject" CHECK (("subject_kind" = 'contact') = ("contact_id" IS NOT NULL)), CONSTRAINT "ck_enrollments_state" CHECK ("state" IN ('active', 'completed', 'exited', 'converted')), CONSTRAINT "fk_enrollments_version" FOREIGN KEY ("scenario_id", "version_hash") REFERENCES "scenario_versions"("scenario_id", "version_hash"), CONSTRAINT "fk_enrollments_account" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE, CONSTRAINT "fk_enrollments_contact" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_enrollments_due" ON "enrollments" ("next_run_at") WHERE "state" = 'active'`,
    );
    await queryRunner.query(`CREATE INDEX "ix_enrollments_account" ON "enrollments" ("account_id")`);
    await queryRunner.query(
      `CREATE INDEX "ix_enrollments_scenario_entered" ON "enrollments" ("scenario_id", "entry_key", "entered_at")`,
    );
    await queryRunner.query(
      `CREATE TABLE "enrollment_effects" ("intent_key" text NOT NULL, "enrollment_id" uuid NOT NULL, "kind" text NOT NULL, "step_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "message_id" uuid, "handoff_id" uuid, "payload" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "pk_enrollment_effects" PRIMARY KEY ("intent_key"), CONSTRAINT "ck_enrollment_effects_kind" CHECK ("kind" IN ('send', 'handoff', 'set', 'assign')), CONSTRAINT "fk_enrollment_effects_enrollment" FOREIGN KEY ("enrollment_id") REFERENCES "enrollments"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_enrollment_effects_enrollment" ON "enrollment_effects" ("enrollment_id")`,
    );
    await queryRunner.query(
      `CREATE TABLE "handoffs" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "contact_id" uuid, "reason" text NOT NULL, "kind" text NOT NULL, "priority" text NOT NULL, "note" text, "scenario_id" text, "step_id" text, "enrollment_id" uuid, "intent_key" text, "status" text NOT NULL DEFAULT 'open', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_handoffs" PRIMARY KEY ("id"), CONSTRAINT "uq_handoffs_intent_key" UNIQUE ("intent_key"), CONSTRAINT "ck_handoffs_kind" CHECK ("kind" IN ('risk', 'expansion', 'request')), CONSTRAINT "ck_handoffs_priority" CHECK ("priority" IN ('low', 'normal', 'high', 'urgent')), CONSTRAINT "ck_handoffs_status" CHECK ("status" IN ('open', 'acknowledged', 'resolved', 'dismissed')), CONSTRAINT "fk_handoffs_account" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE, CONSTRAINT "fk_handoffs_contact" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE SET NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "ix_handoffs_account_status" ON "handoffs" ("account_id", "status")`);
    // When each trigger last ran: claimed with a conditional upsert so one instance runs each check.
    await queryRunner.query(
      `CREATE TABLE "scenario_checks" ("scenario_id" text NOT NULL, "trigger_key" text NOT NULL, "last_run_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_scenario_checks" PRIMARY KEY ("scenario_id", "trigger_key"))`,
    );
    // Who was in a segment trigger's segment at its last check: entering is "not there then, there now".
    await queryRunner.query(
      `CREATE TABLE "segment_members" ("scenario_id" text NOT NULL, "subject_id" uuid NOT NULL, CONSTRAINT "pk_segment_members" PRIMARY KEY ("scenario_id", "subject_id"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "segment_members"`);
    await queryRunner.query(`DROP TABLE "scenario_checks"`);
    await queryRunner.query(`DROP INDEX "public"."ix_handoffs_account_status"`);
    await queryRunner.query(`DROP TABLE "handoffs"`);
    await queryRunner.query(`DROP INDEX "public"."ix_enrollment_effects_enrollment"`);
    await queryRunner.query(`DROP TABLE "enrollment_effects"`);
    await queryRunner.query(`DROP INDEX "public"."ix_enrollments_scenario_entered"`);
    await queryRunner.query(`DROP INDEX "public"."ix_enrollments_account"`);
    await queryRunner.query(`DROP INDEX "public"."ix_enrollments_due"`);
    await queryRunner.query(`DROP TABLE "enrollments"`);
    await queryRunner.query(`DROP TABLE "scenario_versions"`);
  }
}
