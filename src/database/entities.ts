import { AccountEntity } from '../contacts/account.entity';
import { ContactEntity } from '../contacts/contact.entity';
import { CsmEntity } from '../contacts/csm.entity';
import { EventEntity } from '../events/event.entity';

export const entities = [CsmEntity, AccountEntity, ContactEntity, EventEntity];
