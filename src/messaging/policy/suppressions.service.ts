import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { normaliseEmail } from '../../common/email';
import { PolicyRepository, type SuppressionRow } from './policy.repository';

/** Admin operations on the suppression list. */
@Injectable()
export class SuppressionsService {
  constructor(
    private readonly repository: PolicyRepository,
    private readonly clock: Clock,
  ) {}

  page(after: string | undefined, limit: number): Promise<SuppressionRow[]> {
    return this.repository.suppressionsPage(after, limit);
  }

  /** Adds a manual suppression; an address already suppressed keeps its first entry. */
  async add(input: { email: string; note?: string }): Promise<{ created: boolean; suppression: SuppressionRow }> {
    const email = normaliseEmail(input.email);
    return this.repository.transaction(async (manager) => {
      const created = await this.repository.addSuppression(manager, {
        email,
        reason: 'manual',
        source: 'admin_api',
        note: input.note ?? null,
        createdAt: this.clock.now(),
      });
      const suppression = await this.repository.findSuppression(email, manager);
      if (suppression === null) throw new Error('suppression vanished inside its transaction');
      return { created, suppression };
    });
  }

  async remove(email: string): Promise<void> {
    if (!(await this.repository.removeSuppression(normaliseEmail(email)))) {
      throw new DomainError(ErrorCode.NotFound, 'That address is not suppressed');
    }
  }
}
