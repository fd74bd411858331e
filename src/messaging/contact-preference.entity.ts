import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ContactEntity } from '../contacts/contact.entity';

/** A contact's choice for one preference topic of advertising mail (absent: subscribed). */
@Entity('contact_preferences')
export class ContactPreferenceEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_contact_preferences' })
  contactId!: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_contact_preferences' })
  topic!: string;

  @ManyToOne(() => ContactEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'contact_id', foreignKeyConstraintName: 'fk_contact_preferences_contact' })
  contact?: ContactEntity;

  @Column('boolean')
  subscribed!: boolean;

  @Column('timestamptz')
  updatedAt!: Date;
}
