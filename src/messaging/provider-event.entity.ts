import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { JsonObject } from '../common/json';

/** A provider webhook event, stored once per provider event id (SendGrid's sg_event_id). */
@Entity('provider_events')
@Index('ix_provider_events_message', ['messageId'])
export class ProviderEventEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_provider_events' })
  providerEventId!: string;

  @Column('text')
  provider!: string;

  /** Our message id (from custom args), when the event names one we know. */
  @Column('uuid', { nullable: true })
  messageId!: string | null;

  @Column('text')
  event!: string;

  @Column('timestamptz')
  occurredAt!: Date;

  @Column('timestamptz')
  receivedAt!: Date;

  @Column('jsonb')
  payload!: JsonObject;
}
