import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Unique } from 'typeorm';
import { AccountEntity } from '../contacts/account.entity';
import { ContactEntity } from '../contacts/contact.entity';

export const MESSAGE_KINDS = ['advertising', 'operational'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/**
 * One email to one contact. Its id is chosen before rendering, so tracking
 * tokens and the Message-ID can carry it; `intent_key` makes each send happen once.
 */
@Entity('messages')
@Unique('uq_messages_intent_key', ['intentKey'])
@Check('ck_messages_kind', `"kind" IN ('advertising', 'operational')`)
@Index('ix_messages_contact_created', ['contactId', 'createdAt'])
export class MessageEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_messages' })
  id!: string;

  /** The scenario step occurrence, or the caller's idempotency key. */
  @Column('text')
  intentKey!: string;

  @Column('uuid')
  contactId!: string;

  @ManyToOne(() => ContactEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'contact_id', foreignKeyConstraintName: 'fk_messages_contact' })
  contact?: ContactEntity;

  @Column('uuid')
  accountId!: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id', foreignKeyConstraintName: 'fk_messages_account' })
  account?: AccountEntity;

  /** Template id, e.g. `onboarding/first-steps`. */
  @Column('text')
  template!: string;

  @Column('text')
  locale!: 'ja' | 'en';

  @Column('text')
  kind!: MessageKind;

  /** Whether the open pixel and click tracking were added, per the contact's consent. */
  @Column('boolean', { default: true })
  trackOpens!: boolean;

  @Column('boolean', { default: true })
  trackClicks!: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column('timestamptz', { nullable: true })
  sentAt!: Date | null;
}
