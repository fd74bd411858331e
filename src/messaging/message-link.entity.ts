import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { MessageEntity } from './message.entity';

/** A link of a rendered message: the only URL its click token may redirect to. */
@Entity('message_links')
export class MessageLinkEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_message_links' })
  messageId!: string;

  @PrimaryColumn('integer', { primaryKeyConstraintName: 'pk_message_links' })
  linkIndex!: number;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'message_id', foreignKeyConstraintName: 'fk_message_links_message' })
  message?: MessageEntity;

  @Column('text')
  url!: string;
}
