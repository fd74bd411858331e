import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `messages.recipient`: the address an attempt was sent to, written with the in-flight mark.
 * Unsubscribe suppresses that address, the mailbox that asked, rather than the contact's
 * address of the moment, which may have changed since the mail went out. Null for messages
 * never handed to a transport, and for those sent before this migration (their unsubscribe
 * falls back to the contact's address). Adding a nullable column without a default is a
 * catalog change only, so this is cheap on a large table.
 */
export class MessageRecipient1765000000000 implements MigrationInterface {
  name = 'MessageRecipient1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" ADD "recipient" text`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "recipient"`);
  }
}
