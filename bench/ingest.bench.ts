import { generateAccountsNdjson, generateContactsNdjson, generatedAccountIds } from '../test/support/generate-rows';
import { generateUsageEventsBatch } from '../test/support/generate-events';
import { api, type BenchTarget, createTarget, type Engine, perSecond, startOn, stopTend } from './bench-support';

export interface IngestFigures {
  engine: Engine;
  contactsImported: number;
  importMs: number;
  importRowsPerSecond: number;
  eventsIngested: number;
  ingestMs: number;
  eventsPerSecond: number;
  concurrency: number;
  /**
   * PostgreSQL: a worker process (ROLE=worker) folds the usage rollups every second during
   * the ingest, as in production; this is the time from the last answer until every event is
   * in the rollups (checked: rollup totals equal the events). Embedded: one ROLE=all process.
   */
  rollupsCaughtUpMs: number | null;
}

/**
 * NDJSON import of `contacts` contacts in one request (after 1,000 accounts), then
 * `batches` x 1,000 usage events through POST /api/events with `concurrency`
 * requests in flight. Real HTTP against a real Tend process (ROLE=api, with a ROLE=worker
 * process folding the usage rollups alongside on PostgreSQL).
 */
export async function benchIngest(
  engine: Engine,
  contacts: number,
  batches: number,
  concurrency: number,
): Promise<IngestFigures> {
  const target = await createTarget(engine);
  let tend: Awaited<ReturnType<typeof startOn>> | undefined;
  let worker: Awaited<ReturnType<typeof startOn>> | undefined;
  try {
    // On PostgreSQL an API process and a worker process (which folds the rollups every
    // second); the embedded engine admits one process, which does both.
    const running = (tend = await startOn(target, engine === 'embedded' ? { ROLE: 'all' } : {}));
    if (engine === 'postgres') worker = await startOn(target, { ROLE: 'worker' });
    const accounts = generatedAccountIds(1000);
    const accountsBody = generateAccountsNdjson(1000);
    const accountsResult = await api(running, 'POST', '/api/accounts/import', accountsBody, 'application/x-ndjson');
    if (accountsResult.status !== 200) throw new Error(`account import failed: ${JSON.stringify(accountsResult.json)}`);

    const contactsBody = generateContactsNdjson(contacts, accounts);
    const importStarted = performance.now();
    const imported = await api(running, 'POST', '/api/contacts/import', contactsBody, 'application/x-ndjson');
    const importMs = performance.now() - importStarted;
    if (imported.status !== 200)
      throw new Error(`contact import failed: ${JSON.stringify(imported.json).slice(0, 500)}`);

    const bodies = Array.from({ length: batches }, (_, b) =>
      JSON.stringify(generateUsageEventsBatch(b, 1000, accounts)),
    );
    let next = 0;
    let accepted = 0;
    const ingestStarted = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const result = await api(running, 'POST', '/api/events', body, 'application/json');
          if (result.status !== 200) throw new Error(`ingest failed: ${JSON.stringify(result.json).slice(0, 500)}`);
          accepted += (result.json as { accepted: number }).accepted;
        }
      }),
    );
    const ingestMs = performance.now() - ingestStarted;
    if (accepted !== batches * 1000) throw new Error(`expected ${batches * 1000} accepted events, got ${accepted}`);
    const rollupsCaughtUpMs = engine === 'postgres' ? await rollupsCaughtUp(target, accepted) : null;
    return {
      engine,
      contactsImported: contacts,
      importMs: Math.round(importMs),
      importRowsPerSecond: perSecond(contacts, importMs),
      eventsIngested: accepted,
      ingestMs: Math.round(ingestMs),
      eventsPerSecond: perSecond(accepted, ingestMs),
      concurrency,
      rollupsCaughtUpMs,
    };
  } finally {
    // A Tend that failed to start must not leave its database behind.
    if (worker !== undefined) await stopTend(worker);
    if (tend !== undefined) await stopTend(tend);
    await target.dispose();
  }
}

/** Waits until the worker has folded every event into the rollups; returns how long that took. */
async function rollupsCaughtUp(target: BenchTarget, events: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const [row] = await target.sql<{ pending: number; total: number }>(
      `SELECT (SELECT count(*)::int FROM usage_rollup_deltas) AS pending,
              (SELECT coalesce(sum(events), 0)::int FROM account_daily_usage) AS total`,
    );
    if (row && row.pending === 0 && row.total === events) return Math.round(performance.now() - started);
    if (row && row.pending === 0 && row.total > events)
      throw new Error(`rollups count ${row.total} of ${events} events`);
    if (performance.now() - started > 60_000) throw new Error(`rollups not caught up: ${JSON.stringify(row)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
