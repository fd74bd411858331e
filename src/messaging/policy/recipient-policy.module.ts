import { Module } from '@nestjs/common';
import { RecipientPolicy } from '../messaging.contracts';
import { PolicyRepository } from './policy.repository';
import { RecipientPolicyService } from './recipient-policy.service';

/** The send-time recipient check alone, without routes: usable in every role. */
@Module({
  providers: [
    PolicyRepository,
    RecipientPolicyService,
    { provide: RecipientPolicy, useExisting: RecipientPolicyService },
  ],
  exports: [RecipientPolicy, PolicyRepository],
})
export class RecipientPolicyModule {}
