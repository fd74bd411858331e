import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { Clock } from '../common/clock';
import { logger } from '../common/logger';
import { HandoffsService } from './handoffs.service';
import { HandoffNotifier } from './notifications/handoff-notifier';

/**
 * Worker role: every 2 s escalates overdue handoffs, delivers due notifications and, at
 * the digest time, the daily digests. A tick still running makes the next one a no-op.
 */
@Injectable()
export class HandoffWorker {
  private running = false;

  constructor(
    private readonly handoffs: HandoffsService,
    private readonly notifier: HandoffNotifier,
    private readonly clock: Clock,
  ) {}

  @Interval('handoff-notifications', 2_000)
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.runOnce();
    } catch (error) {
      logger.error({ err: error }, 'handoff worker tick failed');
    } finally {
      this.running = false;
    }
  }

  /** One pass (tests call it directly). */
  async runOnce(): Promise<void> {
    await this.handoffs.escalateOverdue();
    await this.notifier.deliverDue();
    await this.notifier.sendDigests(this.clock.now());
  }
}
