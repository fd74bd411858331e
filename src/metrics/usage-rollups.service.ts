import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { logger } from '../common/logger';

/**
 * The daily usage rollups (account_daily_usage, contact_daily_usage, visitor_daily_site)
 * are fed by the `events` trigger through `usage_rollup_deltas` (migration
 * 1764800000000): ingest only appends grouped counts, and `fold` moves them into the
 * rollups. Each delta is folded exactly once, whatever folds run at the same time.
 */
@Injectable()
export class UsageRollups {
  constructor(private readonly dataSource: DataSource) {}

  /** Folds every pending delta into the rollups; returns how many delta rows it folded. */
  async fold(): Promise<number> {
    const rows: { folded: number }[] = await this.dataSource.query(`SELECT usage_rollups_fold() AS folded`);
    return rows[0]?.folded ?? 0;
  }
}

/** Folds the rollups every second on workers (ROLE=worker or all), so they lag the log by about a second. */
@Injectable()
export class UsageRollupsWorker {
  private running = false;

  constructor(private readonly rollups: UsageRollups) {}

  @Interval('usage-rollups', 1000)
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.rollups.fold();
    } catch (error: unknown) {
      logger.error({ err: error }, 'usage rollup fold failed; retried next second');
    } finally {
      this.running = false;
    }
  }
}
