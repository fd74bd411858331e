import { Check, Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import type { JsonObject } from '../common/json';

export const EVENT_SOURCES = ['api', 'tracking', 'provider', 'system'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

/**
 * Append-only log of everything a contact, visitor or account did or had happen.
 * `idempotency_key` is unique per source so a retried delivery is stored once.
 */
@Entity('events')
@Unique('uq_events_source_idempotency_key', ['source', 'idempotencyKey'])
@Check('ck_events_source', `"source" IN ('api', 'tracking', 'provider', 'system')`)
@Check('ck_events_type', `"type" ~ '^[a-z][a-z0-9_.]{0,63}$'`)
@Index('ix_events_account_type_occurred', ['accountId', 'type', 'occurredAt'])
@Index('ix_events_account_occurred', ['accountId', 'occurredAt', 'id'])
@Index('ix_events_received', ['receivedAt'])
@Index('ix_events_contact_occurred', ['contactId', 'occurredAt', 'id'], { where: '"contact_id" IS NOT NULL' })
@Index('ix_events_tracking_occurred', ['occurredAt'], { where: `"source" = 'tracking'` })
@Index('ix_events_visitor_occurred', ['visitorId', 'occurredAt', 'id'], { where: '"visitor_id" IS NOT NULL' })
export class EventEntity {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'ALWAYS',
    primaryKeyConstraintName: 'pk_events',
  })
  id!: string;

  @Column('text')
  type!: string;

  @Column('timestamptz')
  occurredAt!: Date;

  @Column('timestamptz', { default: () => 'now()' })
  receivedAt!: Date;

  @Column('uuid', { nullable: true })
  accountId!: string | null;

  @Column('uuid', { nullable: true })
  contactId!: string | null;

  @Column('text', { nullable: true })
  visitorId!: string | null;

  @Column('text')
  source!: EventSource;

  @Column('text')
  idempotencyKey!: string;

  @Column('jsonb', { default: () => "'{}'" })
  props!: JsonObject;
}
