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
import { AccountEntity } from './account.entity';

export const CONTACT_ROLES = ['admin', 'operator', 'decision_maker', 'champion'] as const;
export type ContactRole = (typeof CONTACT_ROLES)[number];
export const CONTACT_STATUSES = ['active', 'left', 'bounced'] as const;
export type ContactStatus = (typeof CONTACT_STATUSES)[number];
export const CONSENT_BASES = ['opt_in', 'existing_relationship'] as const;
export type ConsentBasis = (typeof CONSENT_BASES)[number];
/** What mail to this contact may measure: opens and clicks, clicks only, or nothing. */
export const EMAIL_TRACKING_LEVELS = ['full', 'clicks', 'none'] as const;
export type EmailTracking = (typeof EMAIL_TRACKING_LEVELS)[number];

/** A person at a customer account who may receive mail. */
@Entity('contacts')
@Unique('uq_contacts_external_id', ['externalId'])
@Unique('uq_contacts_email', ['email'])
@Check('ck_contacts_roles', `"roles" <@ ARRAY['admin', 'operator', 'decision_maker', 'champion']::text[]`)
@Check('ck_contacts_status', `"status" IN ('active', 'left', 'bounced')`)
@Check('ck_contacts_email_tracking', `"email_tracking" IS NULL OR "email_tracking" IN ('full', 'clicks', 'none')`)
@Check('ck_contacts_locale', `"locale" IS NULL OR "locale" IN ('ja', 'en')`)
@Check(
  'ck_contacts_consent',
  `"consent_basis" IS NULL OR ("consent_basis" = 'existing_relationship') OR ("consent_basis" = 'opt_in' AND "consent_at" IS NOT NULL AND "consent_method" IS NOT NULL AND "consent_source" IS NOT NULL)`,
)
@Check('ck_contacts_consent_basis', `"consent_basis" IS NULL OR "consent_basis" IN ('opt_in', 'existing_relationship')`)
@Index('ix_contacts_account', ['accountId'])
export class ContactEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_contacts' })
  id!: string;

  @Column('uuid')
  accountId!: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id', foreignKeyConstraintName: 'fk_contacts_account' })
  account?: AccountEntity;

  @Column('text')
  externalId!: string;

  /** Normalised (trimmed, lower-case); never logged or put in URLs. */
  @Column('text')
  email!: string;

  @Column('text', { nullable: true })
  name!: string | null;

  @Column('text', { array: true, default: () => "'{}'" })
  roles!: ContactRole[];

  @Column('text', { nullable: true })
  locale!: 'ja' | 'en' | null;

  @Column('text', { nullable: true })
  timeZone!: string | null;

  @Column('text', { default: 'active' })
  status!: ContactStatus;

  /** Email tracking consent; null follows EMAIL_TRACKING_DEFAULT. */
  @Column('text', { nullable: true })
  emailTracking!: EmailTracking | null;

  /** Legal basis for advertising mail (特定電子メール法): recorded opt-in, or an existing business relationship. */
  @Column('text', { nullable: true })
  consentBasis!: ConsentBasis | null;

  @Column('timestamptz', { nullable: true })
  consentAt!: Date | null;

  /** How consent was given, e.g. `web_form`, `checkbox_at_signup`, `business_card`. */
  @Column('text', { nullable: true })
  consentMethod!: string | null;

  /** Where consent was given, e.g. the form URL or event name. */
  @Column('text', { nullable: true })
  consentSource!: string | null;

  @Column('jsonb', { default: () => "'{}'" })
  attributes!: Attributes;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
