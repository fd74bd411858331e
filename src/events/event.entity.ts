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
// EVENT_TYPE_PATTERN (`^[a-z][a-z0-9_.]{0,63}$`) without the regular expression engine, which cost
// ~7% of PostgreSQL's CPU on ingest (migration 1764900000000).
@Check(
  'ck_events_type',
  `length("type") BETWEEN 1 AND 64 AND left("type", 1) COLLATE "C" BETWEEN 'a' AND 'z' AND btrim("type", 'abcdefghijklmnopqrstuvwxyz0123456789_.') = ''`,
)
@Index('ix_events_account_type_occurred', ['accountId', 'type', 'occurredAt'], { where: '"account_id" IS NOT NULL' })
@Index('ix_events_account_occurred', ['accountId', 'occurredAt', 'id'], { where: '"account_id" IS NOT NULL' })
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
