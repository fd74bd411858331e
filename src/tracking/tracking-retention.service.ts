import { Inject, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { Clock } from '../common/clock';
import { logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { TrackingRepository } from './tracking.repository';

/** Deletes raw tracking rows past the retention period (worker role), in bounded batches. */
@Injectable()
export class TrackingRetentionService {
  private running = false;

  constructor(
    private readonly repository: TrackingRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Interval('tracking-retention', 60 * 60 * 1000)
  async sweep(maxBatches = 100): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const before = new Date(this.clock.now().getTime() - this.config.tracking.retentionMs);
      let total = 0;
      for (let i = 0; i < maxBatches; i += 1) {
        const deleted = await this.repository.deleteTrackingEventsBefore(before, 10_000);
        total += deleted;
        if (deleted < 10_000) break;
      }
      if (total > 0) logger.info({ deleted: total, before: before.toISOString() }, 'tracking retention sweep');
      return total;
    } finally {
      this.running = false;
    }
  }
}
