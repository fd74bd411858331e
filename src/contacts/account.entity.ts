import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import type { Attributes } from '../common/json';
import { CsmEntity } from './csm.entity';

export const ACCOUNT_STATUSES = ['active', 'churned'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

/** A customer company with a subscription. */
@Entity('accounts')
@Unique('uq_accounts_external_id', ['externalId'])
@Check('ck_accounts_status', `"status" IN ('active', 'churned')`)
@Check('ck_accounts_locale', `"locale" IS NULL OR "locale" IN ('ja', 'en')`)
@Check('ck_accounts_arr', `"arr_amount" IS NULL OR ("arr_amount" >= 0 AND "arr_currency" IS NOT NULL)`)
@Check('ck_accounts_arr_currency', `"arr_currency" IS NULL OR "arr_currency" ~ '^[A-Z]{3}$'`)
@Index('ix_accounts_owner_csm', ['ownerCsmId'])
@Index('ix_accounts_renewal_date', ['renewalDate'])
export class AccountEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_accounts' })
  id!: string;

  @Column('text')
  externalId!: string;

  @Column('text')
  name!: string;

  @Column('text', { nullable: true })
  plan!: string | null;

  /** Annual recurring revenue in the currency's major unit, as a decimal string. */
  @Column('numeric', { precision: 14, scale: 2, nullable: true })
  arrAmount!: string | null;

  /** ISO 4217 code, e.g. JPY, USD. */
  @Column('char', { length: 3, nullable: true })
  arrCurrency!: string | null;

  @Column('uuid', { nullable: true })
  ownerCsmId!: string | null;

  @ManyToOne(() => CsmEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'owner_csm_id', foreignKeyConstraintName: 'fk_accounts_owner_csm' })
  ownerCsm?: CsmEntity | null;

  @Column('date', { nullable: true })
  contractStartDate!: string | null;

  @Column('date', { nullable: true })
  renewalDate!: string | null;

  @Column('text', { nullable: true })
  timeZone!: string | null;

  @Column('text', { nullable: true })
  locale!: 'ja' | 'en' | null;

  @Column('text', { default: 'active' })
  status!: AccountStatus;

  @Column('jsonb', { default: () => "'{}'" })
  attributes!: Attributes;

  /** A CSM paused tech-touch (advertising) mail to this account until then (null: not paused). */
  @Column('timestamptz', { nullable: true })
  techTouchPausedUntil!: Date | null;

  @Column('text', { nullable: true })
  techTouchPauseNote!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
