import { AccountEntity } from '../contacts/account.entity';
import { ContactEntity } from '../contacts/contact.entity';
import { CsmEntity } from '../contacts/csm.entity';
import { EventEntity } from '../events/event.entity';
import { MessageLinkEntity } from '../messaging/message-link.entity';
import { MessageEntity } from '../messaging/message.entity';
import { IdentityConflictEntity } from '../tracking/identity-conflict.entity';
import { VisitorEntity } from '../tracking/visitor.entity';

export const entities = [
  CsmEntity,
  AccountEntity,
  ContactEntity,
  EventEntity,
  MessageEntity,
  MessageLinkEntity,
  VisitorEntity,
  IdentityConflictEntity,
];
