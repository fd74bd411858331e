import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Send pipeline state on messages; suppressions, contact preferences and provider events. */
export class Messaging1764200000000 implements MigrationInterface {
  name = 'Messaging1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "contact_preferences" ("contact_id" uuid NOT NULL, "topic" text NOT NULL, "subscribed" boolean NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_contact_preferences" PRIMARY KEY ("contact_id", "topic"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "provider_events" ("provider_event_id" text NOT NULL, "provider" text NOT NULL, "message_id" uuid, "event" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL, "payload" jsonb NOT NULL, CONSTRAINT "pk_provider_events" PRIMARY KEY ("provider_event_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_provider_events_message" ON "provider_events" ("message_id")`);
    await queryRunner.query(
      `CREATE TABLE "suppressions" ("email" text NOT NULL, "reason" text NOT NULL, "source" text NOT NULL, "note" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "ck_suppressions_reason" CHECK ("reason" IN ('unsubscribed', 'hard_bounce', 'spam_complaint', 'manual')), CONSTRAINT "pk_suppressions" PRIMARY KEY ("email"))`,
    );
    await queryRunner.query(`ALTER TABLE "messages" ADD "status" text NOT NULL DEFAULT 'queued'`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "due_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "expires_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "attempts" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "lease_token" uuid`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "lease_expires_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "status_reason" text`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "topic" text`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "data" jsonb NOT NULL DEFAULT '{}'`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "subject" text`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "message_id_header" text`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "transport" text`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "provider_message_id" text`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "delivered_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "updated_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`CREATE INDEX "ix_messages_account_created" ON "messages" ("account_id", "created_at")`);
    await queryRunner.query(
      `CREATE INDEX "ix_messages_lease" ON "messages" ("lease_expires_at") WHERE "status" = 'sending'`,
    );
    await queryRunner.query(`CREATE INDEX "ix_messages_due" ON "messages" ("due_at") WHERE "status" = 'queued'`);
    await queryRunner.query(
      `ALTER TABLE "messages" ADD CONSTRAINT "ck_messages_lease" CHECK ("status" <> 'sending' OR ("lease_token" IS NOT NULL AND "lease_expires_at" IS NOT NULL))`,
    );
    await queryRunner.query(
      `ALTER TABLE "messages" ADD CONSTRAINT "ck_messages_status" CHECK ("status" IN ('queued', 'sending', 'unknown', 'sent', 'deferred', 'delivered', 'bounced', 'complained', 'suppressed', 'dead'))`,
    );
    await queryRunner.query(
      `ALTER TABLE "contact_preferences" ADD CONSTRAINT "fk_contact_preferences_contact" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "contact_preferences" DROP CONSTRAINT "fk_contact_preferences_contact"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "ck_messages_status"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "ck_messages_lease"`);
    await queryRunner.query(`DROP INDEX "public"."ix_messages_due"`);
    await queryRunner.query(`DROP INDEX "public"."ix_messages_lease"`);
    await queryRunner.query(`DROP INDEX "public"."ix_messages_account_created"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "updated_at"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "delivered_at"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "provider_message_id"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "transport"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "message_id_header"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "subject"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "data"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "topic"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "status_reason"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "lease_expires_at"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "lease_token"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "attempts"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "expires_at"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "due_at"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "status"`);
    await queryRunner.query(`DROP TABLE "suppressions"`);
    await queryRunner.query(`DROP INDEX "public"."ix_provider_events_message"`);
    await queryRunner.query(`DROP TABLE "provider_events"`);
    await queryRunner.query(`DROP TABLE "contact_preferences"`);
  }
}
