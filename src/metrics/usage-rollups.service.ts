import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * The daily usage rollups (account_daily_usage, contact_daily_usage, visitor_daily_site)
 * are fed by the `events` trigger through `usage_rollup_deltas` (migration
 * 1764800000000): ingest only appends grouped counts, and `fold` moves them into the
 * rollups. Each delta is folded exactly once, whatever folds run at the same time. The
 * worker folds at the start of every scenario tick (each second); explain, the simulator and
 * a handoff raised through the API fold before they read.
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
