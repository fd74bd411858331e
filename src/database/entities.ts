import { AccountEntity } from '../contacts/account.entity';
import { ContactEntity } from '../contacts/contact.entity';
import { CsmEntity } from '../contacts/csm.entity';
import { EventEntity } from '../events/event.entity';
import { ContactPreferenceEntity } from '../messaging/contact-preference.entity';
import { MessageLinkEntity } from '../messaging/message-link.entity';
import { ProviderEventEntity } from '../messaging/provider-event.entity';
import { SuppressionEntity } from '../messaging/suppression.entity';
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
  SuppressionEntity,
  ContactPreferenceEntity,
  ProviderEventEntity,
];
