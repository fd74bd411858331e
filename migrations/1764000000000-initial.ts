import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Accounts, contacts, CSMs and the append-only events log. */
export class Initial1764000000000 implements MigrationInterface {
  name = 'Initial1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "csms" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "external_id" text NOT NULL, "name" text NOT NULL, "email" text NOT NULL, "locale" text NOT NULL DEFAULT 'ja', "notification_webhook_url" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "uq_csms_email" UNIQUE ("email"), CONSTRAINT "uq_csms_external_id" UNIQUE ("external_id"), CONSTRAINT "ck_csms_locale" CHECK ("locale" IN ('ja', 'en')), CONSTRAINT "pk_csms" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "accounts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "external_id" text NOT NULL, "name" text NOT NULL, "plan" text, "arr_amount" numeric(14,2), "arr_currency" character(3), "owner_csm_id" uuid, "contract_start_date" date, "renewal_date" date, "time_zone" text, "locale" text, "status" text NOT NULL DEFAULT 'active', "attributes" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "uq_accounts_external_id" UNIQUE ("external_id"), CONSTRAINT "ck_accounts_arr_currency" CHECK ("arr_currency" IS NULL OR "arr_currency" ~ '^[A-Z]{3}$'), CONSTRAINT "ck_accounts_arr" CHECK ("arr_amount" IS NULL OR ("arr_amount" >= 0 AND "arr_currency" IS NOT NULL)), CONSTRAINT "ck_accounts_locale" CHECK ("locale" IS NULL OR "locale" IN ('ja', 'en')), CONSTRAINT "ck_accounts_status" CHECK ("status" IN ('active', 'churned')), CONSTRAINT "pk_accounts" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_accounts_renewal_date" ON "accounts" ("renewal_date")`);
    await queryRunner.query(`CREATE INDEX "ix_accounts_owner_csm" ON "accounts" ("owner_csm_id")`);
    await queryRunner.query(
      `CREATE TABLE "contacts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "account_id" uuid NOT NULL, "external_id" text NOT NULL, "email" text NOT NULL, "name" text, "roles" text array NOT NULL DEFAULT '{}', "locale" text, "time_zone" text, "status" text NOT NULL DEFAULT 'active', "consent_basis" text, "consent_at" TIMESTAMP WITH TIME ZONE, "consent_method" text, "consent_source" text, "attributes" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "uq_contacts_email" UNIQUE ("email"), CONSTRAINT "uq_contacts_external_id" UNIQUE ("external_id"), CONSTRAINT "ck_contacts_consent_basis" CHECK ("consent_basis" IS NULL OR "consent_basis" IN ('opt_in', 'existing_relationship')), CONSTRAINT "ck_contacts_consent" CHECK ("consent_basis" IS NULL OR ("consent_basis" = 'existing_relationship') OR ("consent_basis" = 'opt_in' AND "consent_at" IS NOT NULL AND "consent_method" IS NOT NULL AND "consent_source" IS NOT NULL)), CONSTRAINT "ck_contacts_locale" CHECK ("locale" IS NULL OR "locale" IN ('ja', 'en')), CONSTRAINT "ck_contacts_status" CHECK ("status" IN ('active', 'left', 'bounced')), CONSTRAINT "ck_contacts_roles" CHECK ("roles" <@ ARRAY['admin', 'operator', 'decision_maker', 'champion']::text[]), CONSTRAINT "pk_contacts" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_contacts_account" ON "contacts" ("account_id")`);
    await queryRunner.query(
      `CREATE TABLE "events" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "type" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "account_id" uuid, "contact_id" uuid, "visitor_id" text, "source" text NOT NULL, "idempotency_key" text NOT NULL, "props" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "uq_events_source_idempotency_key" UNIQUE ("source", "idempotency_key"), CONSTRAINT "ck_events_type" CHECK ("type" ~ '^[a-z][a-z0-9_.]{0,63}$'), CONSTRAINT "ck_events_source" CHECK ("source" IN ('api', 'tracking', 'provider', 'system')), CONSTRAINT "pk_events" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_events_visitor_occurred" ON "events" ("visitor_id", "occurred_at", "id") WHERE "visitor_id" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_events_contact_occurred" ON "events" ("contact_id", "occurred_at", "id") WHERE "contact_id" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_events_account_occurred" ON "events" ("account_id", "occurred_at", "id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_events_account_type_occurred" ON "events" ("account_id", "type", "occurred_at")`,
    );
    await queryRunner.query(
      `ALTER TABLE "accounts" ADD CONSTRAINT "fk_accounts_owner_csm" FOREIGN KEY ("owner_csm_id") REFERENCES "csms"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "contacts" ADD CONSTRAINT "fk_contacts_account" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "contacts" DROP CONSTRAINT "fk_contacts_account"`);
    await queryRunner.query(`ALTER TABLE "accounts" DROP CONSTRAINT "fk_accounts_owner_csm"`);
    await queryRunner.query(`DROP INDEX "public"."ix_events_account_type_occurred"`);
    await queryRunner.query(`DROP INDEX "public"."ix_events_account_occurred"`);
    await queryRunner.query(`DROP INDEX "public"."ix_events_contact_occurred"`);
    await queryRunner.query(`DROP INDEX "public"."ix_events_visitor_occurred"`);
    await queryRunner.query(`DROP TABLE "events"`);
    await queryRunner.query(`DROP INDEX "public"."ix_contacts_account"`);
    await queryRunner.query(`DROP TABLE "contacts"`);
    await queryRunner.query(`DROP INDEX "public"."ix_accounts_owner_csm"`);
    await queryRunner.query(`DROP INDEX "public"."ix_accounts_renewal_date"`);
    await queryRunner.query(`DROP TABLE "accounts"`);
    await queryRunner.query(`DROP TABLE "csms"`);
  }
}
