import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ContactEntity } from '../contacts/contact.entity';

export const LINK_STATUSES = ['verified', 'unverified'] as const;
export type LinkStatus = (typeof LINK_STATUSES)[number];

/**
 * An anonymous browser, named by the first-party cookie the site snippet sets.
 * Linked to at most one contact: `verified` when proven by a signed identity
 * parameter from a human email click, `unverified` when a site form said so.
 */
@Entity('visitors')
@Check('ck_visitors_link', `"contact_id" IS NULL OR ("link_status" IS NOT NULL AND "linked_at" IS NOT NULL)`)
@Check('ck_visitors_link_status', `"link_status" IS NULL OR "link_status" IN ('verified', 'unverified')`)
@Index('ix_visitors_contact', ['contactId'])
export class VisitorEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_visitors' })
  id!: string;

  @Column('timestamptz')
  firstSeenAt!: Date;

  @Column('timestamptz')
  lastSeenAt!: Date;

  @Column('uuid', { nullable: true })
  contactId!: string | null;

  @ManyToOne(() => ContactEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'contact_id', foreignKeyConstraintName: 'fk_visitors_contact' })
  contact?: ContactEntity | null;

  @Column('text', { nullable: true })
  linkStatus!: LinkStatus | null;

  @Column('timestamptz', { nullable: true })
  linkedAt!: Date | null;
}
