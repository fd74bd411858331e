import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * CSM handoffs (issue #7).
 *
 * - `handoffs` become first-class: the reason text, a context snapshot, the assigned CSM
 *   (and how: owner or team queue), the due time from the priority, who acknowledged,
 *   resolved or dismissed it and when, escalations, and whether it holds advertising mail.
 *   One open (or acknowledged) handoff per account and reason: a partial unique index.
 * - `handoff_history`: every change and every repeat of a handoff, in order.
 * - `handoff_notifications`: an outbox of notifications (CSM mail, webhook), delivered at
 *   least once with retries and backoff; `dedupe_key` makes each one once per purpose.
 * - `handoff_queue_seq`: round-robin position of the fallback team queue.
 * - accounts: a manual pause of tech-touch mail (`tech_touch_paused_until`).
 * - messages: `hold_during_handoff` (false for scenarios that declare their mail must flow).
 */
export class Handoffs1764700000000 implements MigrationInterface {
  name = 'Handoffs1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "handoffs" ADD "reason_text" text, ADD "context" jsonb NOT NULL DEFAULT '{}', ADD "csm_id" uuid, ADD "assigned_via" text NOT NULL DEFAULT 'none', ADD "due_at" TIMESTAMP WITH TIME ZONE, ADD "holds_mail" boolean NOT NULL DEFAULT true, ADD "source" text NOT NULL DEFAULT 'scenario', ADD "repeats" integer NOT NULL DEFAULT 0, ADD "last_raised_at" TIMESTAMP WITH TIME ZONE, ADD "acknowledged_at" TIMESTAMP WITH TIME ZONE, ADD "acknowledged_by" text, ADD "resolved_at" TIMESTAMP WITH TIME ZONE, ADD "resolved_by" text, ADD "outcome" text, ADD "dismissed_at" TIMESTAMP WITH TIME ZONE, ADD "dismissed_by" text, ADD "escalated_at" TIMESTAMP WITH TIME ZONE, ADD "escalations" integer NOT NULL DEFAULT 0, ADD "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`,
    );
    await queryRunner.query(
      `ALTER TABLE "handoffs" ADD CONSTRAINT "fk_handoffs_csm" FOREIGN KEY ("csm_id") REFERENCES "csms"("id") ON DELETE SET NULL, ADD CONSTRAINT "ck_handoffs_assigned_via" CHECK ("assigned_via" IN ('owner', 'queue', 'none')), ADD CONSTRAINT "ck_handoffs_source" CHECK ("source" IN ('scenario', 'api'))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_handoffs_open_reason" ON "handoffs" ("account_id", "reason") WHERE "status" IN ('open', 'acknowledged')`,
    );
    await queryRunner.query(`CREATE INDEX "ix_handoffs_csm_status" ON "handoffs" ("csm_id", "status", "created_at")`);
    await queryRunner.query(`CREATE INDEX "ix_handoffs_due" ON "handoffs" ("due_at") WHERE "status" = 'open'`);
    await queryRunner.query(
      `CREATE TABLE "handoff_history" ("id" uuid NOT NULL, "seq" bigint GENERATED ALWAYS AS IDENTITY, "handoff_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "action" text NOT NULL, "actor" text, "detail" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "pk_handoff_history" PRIMARY KEY ("id"), CONSTRAINT "ck_handoff_history_action" CHECK ("action" IN ('created', 'repeated', 'acknowledged', 'resolved', 'dismissed', 'escalated', 'notified', 'notification_failed')), CONSTRAINT "fk_handoff_history_handoff" FOREIGN KEY ("handoff_id") REFERENCES "handoffs"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(`CREATE INDEX "ix_handoff_history_handoff" ON "handoff_history" ("handoff_id", "seq")`);
    await queryRunner.query(
      `CREATE TABLE "handoff_notifications" ("id" uuid NOT NULL, "dedupe_key" text NOT NULL, "handoff_id" uuid, "csm_id" uuid, "channel" text NOT NULL, "purpose" text NOT NULL, "target" text NOT NULL, "payload" jsonb NOT NULL DEFAULT '{}', "status" text NOT NULL DEFAULT 'pending', "attempts" integer NOT NULL DEFAULT 0, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "lease_until" TIMESTAMP WITH TIME ZONE, "last_error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "sent_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_handoff_notifications" PRIMARY KEY ("id"), CONSTRAINT "uq_handoff_notifications_dedupe" UNIQUE ("dedupe_key"), CONSTRAINT "ck_handoff_notifications_channel" CHECK ("channel" IN ('email', 'webhook')), CONSTRAINT "ck_handoff_notifications_purpose" CHECK ("purpose" IN ('created', 'escalated', 'digest')), CONSTRAINT "ck_handoff_notifications_status" CHECK ("status" IN ('pending', 'digest', 'sent', 'failed', 'refused')), CONSTRAINT "fk_handoff_notifications_handoff" FOREIGN KEY ("handoff_id") REFERENCES "handoffs"("id") ON DELETE CASCADE, CONSTRAINT "fk_handoff_notifications_csm" FOREIGN KEY ("csm_id") REFERENCES "csms"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_handoff_notifications_due" ON "handoff_notifications" ("next_attempt_at") WHERE "status" = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_handoff_notifications_digest" ON "handoff_notifications" ("csm_id") WHERE "status" = 'digest'`,
    );
    await queryRunner.query(`CREATE SEQUENCE "handoff_queue_seq"`);
    await queryRunner.query(
      `ALTER TABLE "accounts" ADD "tech_touch_paused_until" TIMESTAMP WITH TIME ZONE, ADD "tech_touch_pause_note" text`,
    );
    await queryRunner.query(`ALTER TABLE "messages" ADD "hold_during_handoff" boolean NOT NULL DEFAULT true`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "hold_during_handoff"`);
    await queryRunner.query(
      `ALTER TABLE "accounts" DROP COLUMN "tech_touch_pause_note", DROP COLUMN "tech_touch_paused_until"`,
    );
    await queryRunner.query(`DROP SEQUENCE "handoff_queue_seq"`);
    await queryRunner.query(`DROP TABLE "handoff_notifications"`);
    await queryRunner.query(`DROP TABLE "handoff_history"`);
    await queryRunner.query(`DROP INDEX "public"."ix_handoffs_due"`);
    await queryRunner.query(`DROP INDEX "public"."ix_handoffs_csm_status"`);
    await queryRunner.query(`DROP INDEX "public"."uq_handoffs_open_reason"`);
    await queryRunner.query(
      `ALTER TABLE "handoffs" DROP CONSTRAINT "ck_handoffs_source", DROP CONSTRAINT "ck_handoffs_assigned_via", DROP CONSTRAINT "fk_handoffs_csm"`,
    );
    await queryRunner.query(
      `ALTER TABLE "handoffs" DROP COLUMN "updated_at", DROP COLUMN "escalations", DROP COLUMN "escalated_at", DROP COLUMN "dismissed_by", DROP COLUMN "dismissed_at", DROP COLUMN "outcome", DROP COLUMN "resolved_by", DROP COLUMN "resolved_at", DROP COLUMN "acknowledged_by", DROP COLUMN "acknowledged_at", DROP COLUMN "last_raised_at", DROP COLUMN "repeats", DROP COLUMN "source", DROP COLUMN "holds_mail", DROP COLUMN "due_at", DROP COLUMN "assigned_via", DROP COLUMN "csm_id", DROP COLUMN "context", DROP COLUMN "reason_text"`,
    );
  }
}
