import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Messages and their links (tracking targets), site visitors and identity conflicts. */
export class Tracking1764100000000 implements MigrationInterface {
  name = 'Tracking1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "messages" ("id" uuid NOT NULL, "intent_key" text NOT NULL, "contact_id" uuid NOT NULL, "account_id" uuid NOT NULL, "template" text NOT NULL, "locale" text NOT NULL, "kind" text NOT NULL, "track_opens" boolean NOT NULL DEFAULT true, "track_clicks" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "sent_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "uq_messages_intent_key" UNIQUE ("intent_key"), CONSTRAINT "ck_messages_kind" CHECK ("kind" IN ('advertising', 'operational')), CONSTRAINT "pk_messages" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_messages_contact_created" ON "messages" ("contact_id", "created_at")`);
    await queryRunner.query(
      `CREATE TABLE "message_links" ("message_id" uuid NOT NULL, "link_index" integer NOT NULL, "url" text NOT NULL, CONSTRAINT "pk_message_links" PRIMARY KEY ("message_id", "link_index"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "visitors" ("id" uuid NOT NULL, "first_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL, "last_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL, "contact_id" uuid, "link_status" text, "linked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "ck_visitors_link_status" CHECK ("link_status" IS NULL OR "link_status" IN ('verified', 'unverified')), CONSTRAINT "ck_visitors_link" CHECK ("contact_id" IS NULL OR ("link_status" IS NOT NULL AND "linked_at" IS NOT NULL)), CONSTRAINT "pk_visitors" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_visitors_contact" ON "visitors" ("contact_id")`);
    await queryRunner.query(
      `CREATE TABLE "identity_conflicts" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "visitor_id" uuid NOT NULL, "linked_contact_id" uuid NOT NULL, "attempted_contact_id" uuid NOT NULL, "method" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "ck_identity_conflicts_method" CHECK ("method" IN ('verified', 'unverified')), CONSTRAINT "pk_identity_conflicts" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_identity_conflicts_visitor" ON "identity_conflicts" ("visitor_id")`);
    await queryRunner.query(
      `ALTER TABLE "messages" ADD CONSTRAINT "fk_messages_contact" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "messages" ADD CONSTRAINT "fk_messages_account" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "message_links" ADD CONSTRAINT "fk_message_links_message" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "visitors" ADD CONSTRAINT "fk_visitors_contact" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "identity_conflicts" ADD CONSTRAINT "fk_identity_conflicts_visitor" FOREIGN KEY ("visitor_id") REFERENCES "visitors"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_events_tracking_occurred" ON "events" ("occurred_at") WHERE "source" = 'tracking'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_events_tracking_occurred"`);
    await queryRunner.query(`ALTER TABLE "identity_conflicts" DROP CONSTRAINT "fk_identity_conflicts_visitor"`);
    await queryRunner.query(`ALTER TABLE "visitors" DROP CONSTRAINT "fk_visitors_contact"`);
    await queryRunner.query(`ALTER TABLE "message_links" DROP CONSTRAINT "fk_message_links_message"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "fk_messages_account"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "fk_messages_contact"`);
    await queryRunner.query(`DROP INDEX "public"."ix_identity_conflicts_visitor"`);
    await queryRunner.query(`DROP TABLE "identity_conflicts"`);
    await queryRunner.query(`DROP INDEX "public"."ix_visitors_contact"`);
    await queryRunner.query(`DROP TABLE "visitors"`);
    await queryRunner.query(`DROP TABLE "message_links"`);
    await queryRunner.query(`DROP INDEX "public"."ix_messages_contact_created"`);
    await queryRunner.query(`DROP TABLE "messages"`);
  }
}
