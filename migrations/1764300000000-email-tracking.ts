import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Per-contact email tracking consent (null follows EMAIL_TRACKING_DEFAULT). */
export class EmailTracking1764300000000 implements MigrationInterface {
  name = 'EmailTracking1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "contacts" ADD "email_tracking" text`);
    await queryRunner.query(
      `ALTER TABLE "contacts" ADD CONSTRAINT "ck_contacts_email_tracking" CHECK ("email_tracking" IS NULL OR "email_tracking" IN ('full', 'clicks', 'none'))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "contacts" DROP CONSTRAINT "ck_contacts_email_tracking"`);
    await queryRunner.query(`ALTER TABLE "contacts" DROP COLUMN "email_tracking"`);
  }
}
