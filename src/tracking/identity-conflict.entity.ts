import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { VisitorEntity } from './visitor.entity';

/**
 * A second contact identified in a browser already linked to another: recorded
 * for a person to look at, never resolved by silently overwriting the link.
 */
@Entity('identity_conflicts')
@Check('ck_identity_conflicts_method', `"method" IN ('verified', 'unverified')`)
@Index('ix_identity_conflicts_visitor', ['visitorId'])
export class IdentityConflictEntity {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'ALWAYS',
    primaryKeyConstraintName: 'pk_identity_conflicts',
  })
  id!: string;

  @Column('uuid')
  visitorId!: string;

  @ManyToOne(() => VisitorEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'visitor_id', foreignKeyConstraintName: 'fk_identity_conflicts_visitor' })
  visitor?: VisitorEntity;

  /** The contact the visitor stays linked to. */
  @Column('uuid')
  linkedContactId!: string;

  /** The contact the refused identify named. */
  @Column('uuid')
  attemptedContactId!: string;

  @Column('text')
  method!: 'verified' | 'unverified';

  @Column('timestamptz')
  occurredAt!: Date;
}
