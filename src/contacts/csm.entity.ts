import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

/** A customer success manager: owns accounts and receives handoffs. */
@Entity('csms')
@Unique('uq_csms_external_id', ['externalId'])
@Unique('uq_csms_email', ['email'])
@Check('ck_csms_locale', `"locale" IN ('ja', 'en')`)
export class CsmEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_csms' })
  id!: string;

  @Column('text')
  externalId!: string;

  @Column('text')
  name!: string;

  /** Normalised (trimmed, lower-case). */
  @Column('text')
  email!: string;

  @Column('text', { default: 'ja' })
  locale!: 'ja' | 'en';

  @Column('text', { nullable: true })
  notificationWebhookUrl!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
