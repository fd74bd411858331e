import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

export const SUPPRESSION_REASONS = ['unsubscribed', 'hard_bounce', 'spam_complaint', 'manual'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

/**
 * Addresses that must not receive advertising mail (and, for hard bounces, no
 * mail at all). Keyed by normalised address so it holds even for addresses that
 * are not, or no longer, contacts. Checked at send time.
 */
@Entity('suppressions')
@Check('ck_suppressions_reason', `"reason" IN ('unsubscribed', 'hard_bounce', 'spam_complaint', 'manual')`)
export class SuppressionEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_suppressions' })
  email!: string;

  @Column('text')
  reason!: SuppressionReason;

  /** Where it came from: `one_click`, `preference_page`, `sendgrid`, `admin_api`... */
  @Column('text')
  source!: string;

  @Column('text', { nullable: true })
  note!: string | null;

  @Column('timestamptz')
  createdAt!: Date;
}
