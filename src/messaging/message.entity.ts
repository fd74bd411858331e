import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Unique } from 'typeorm';
import { AccountEntity } from '../contacts/account.entity';
import type { JsonObject } from '../common/json';
import { ContactEntity } from '../contacts/contact.entity';

export const MESSAGE_KINDS = ['advertising', 'operational'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/**
 * Lifecycle of a message. `queued` rows are due at `due_at` (deferrals for caps
 * or quiet hours move `due_at` and set `defer_reason`); a worker leases one
 * (`sending`); the transport accepts it (`sent`); provider events move it forward
 * (`delivered`, `bounced`, `complained`). `suppressed` (skipped at send time),
 * `dead` (dead letter: permanent failure or retries exhausted) and `unknown`
 * (provider outcome unknown, held for reconciliation) are terminal for workers.
 * Provider-driven status only moves forward: see MESSAGE_STATUS_RANK.
 */
export const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'unknown',
  'sent',
  'deferred',
  'delivered',
  'bounced',
  'complained',
  'suppressed',
  'dead',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Provider events may only raise a message's rank (a late `delivered` never undoes `bounced`). */
export const MESSAGE_STATUS_RANK: Record<MessageStatus, number> = {
  queued: 0,
  sending: 1,
  unknown: 2,
  sent: 3,
  deferred: 4,
  delivered: 5,
  bounced: 6,
  complained: 7,
  suppressed: 8,
  dead: 8,
};

/**
 * One email to one contact. Its id is chosen before rendering, so tracking
 * tokens and the Message-ID can carry it; `intent_key` makes each send happen once.
 */
@Entity('messages')
@Unique('uq_messages_intent_key', ['intentKey'])
@Check('ck_messages_kind', `"kind" IN ('advertising', 'operational')`)
@Index('ix_messages_contact_created', ['contactId', 'createdAt'])
@Index('ix_messages_due', ['dueAt'], { where: `"status" = 'queued'` })
@Index('ix_messages_lease', ['leaseExpiresAt'], { where: `"status" = 'sending'` })
@Index('ix_messages_account_created', ['accountId', 'createdAt'])
@Check(
  'ck_messages_status',
  `"status" IN ('queued', 'sending', 'unknown', 'sent', 'deferred', 'delivered', 'bounced', 'complained', 'suppressed', 'dead')`,
)
@Check('ck_messages_lease', `"status" <> 'sending' OR ("lease_token" IS NOT NULL AND "lease_expires_at" IS NOT NULL)`)
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

  /** Advertising mail waits while the account has an open handoff (false: a scenario that must reach the customer anyway). */
  @Column('boolean', { default: true })
  holdDuringHandoff!: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column('timestamptz', { nullable: true })
  sentAt!: Date | null;

  @Column('text', { default: 'queued' })
  status!: MessageStatus;

  /** When a worker may next try to send it. */
  @Column('timestamptz', { default: () => 'now()' })
  dueAt!: Date;

  /** Latest moment the send is still worth making (e.g. a scenario window); past it the message is dead, not sent late. */
  @Column('timestamptz', { nullable: true })
  expiresAt!: Date | null;

  @Column('integer', { default: 0 })
  attempts!: number;

  /** Fencing token of the worker holding the lease; a write with a stale token is rejected. */
  @Column('uuid', { nullable: true })
  leaseToken!: string | null;

  @Column('timestamptz', { nullable: true })
  leaseExpiresAt!: Date | null;

  /** Why the message waits (frequency cap, quiet hours, provider 429) or why it was suppressed or dead-lettered. */
  @Column('text', { nullable: true })
  statusReason!: string | null;

  /** Preference topic of its template (advertising mail), e.g. `product_tips`. */
  @Column('text', { nullable: true })
  topic!: string | null;

  /** Template variables given by the caller or scenario (no secrets). */
  @Column('jsonb', { default: () => "'{}'" })
  data!: JsonObject;

  @Column('text', { nullable: true })
  subject!: string | null;

  /** The address the last attempt went to (set with the in-flight mark); unsubscribe suppresses it. */
  @Column('text', { nullable: true })
  recipient!: string | null;

  /** Deterministic RFC 5322 Message-ID, `<message id@sending domain>`: finds a message the provider accepted before a crash. */
  @Column('text', { nullable: true })
  messageIdHeader!: string | null;

  /** `outbox`, `smtp` or `sendgrid`. */
  @Column('text', { nullable: true })
  transport!: string | null;

  @Column('text', { nullable: true })
  providerMessageId!: string | null;

  @Column('timestamptz', { nullable: true })
  deliveredAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  updatedAt!: Date | null;
}
