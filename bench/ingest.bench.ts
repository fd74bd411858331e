import { generateAccountsNdjson, generateContactsNdjson, generatedAccountIds } from '../test/support/generate-rows';
import { generateUsageEventsBatch } from '../test/support/generate-events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool, type PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { UsageEventBody } from '../test/support/generate-events';
import { APPEND_EVENTS_SQL, APPENDED_EVENT_COLUMNS, eventRowsJson } from '../src/events/events.repository';
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
  /** The events' occurredAt fall within this many minutes before the run. */
  eventWindowMinutes: number;
  /**
   * PostgreSQL: a worker process (ROLE=worker) folds the usage rollups every second during
   * the ingest, as in production; this is the time from the last answer until every event is
   * in the rollups (checked: rollup totals equal the events). Embedded: one ROLE=all process.
   */
  rollupsCaughtUpMs: number | null;
  /**
   * PostgreSQL only: the ceiling of this machine's server for the same table. After the API
   * run, `events` and the rollup deltas are emptied and the same batches (account ids already
   * resolved) are written straight into `events` by `concurrency` connections with no Tend
   * running: `copy` with COPY FROM STDIN (no idempotency check), `statement` with Tend's own
   * insert statement (ON CONFLICT on the idempotency key). The trigger that appends rollup
   * deltas runs in both; no worker folds them.
   */
  ceiling: { copyRowsPerSecond: number; statementRowsPerSecond: number } | null;
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
  eventWindowMinutes: number,
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
      JSON.stringify(generateUsageEventsBatch(b, 1000, accounts, { windowMs: eventWindowMinutes * 60_000 })),
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
    let ceiling: IngestFigures['ceiling'] = null;
    if (engine === 'postgres') {
      await stopTend(worker!);
      await stopTend(tend);
      worker = tend = undefined;
      ceiling = await serverCeiling(target, bodies, concurrency);
    }
    return {
      engine,
      contactsImported: contacts,
      importMs: Math.round(importMs),
      importRowsPerSecond: perSecond(contacts, importMs),
      eventsIngested: accepted,
      ingestMs: Math.round(ingestMs),
      eventsPerSecond: perSecond(accepted, ingestMs),
      concurrency,
      eventWindowMinutes,
      rollupsCaughtUpMs,
      ceiling,
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

/** Writes the batches straight into `events` twice (COPY, then Tend's statement); rows/s of each. */
async function serverCeiling(
  target: BenchTarget,
  bodies: readonly string[],
  concurrency: number,
): Promise<NonNullable<IngestFigures['ceiling']>> {
  const accountIds = new Map(
    (await target.sql<{ id: string; external_id: string }>('SELECT id, external_id FROM accounts')).map((r) => [
      r.external_id,
      r.id,
    ]),
  );
  const receivedAt = new Date().toISOString();
  const batches = bodies.map((body) =>
    (JSON.parse(body) as { events: UsageEventBody[] }).events.map((e) => ({
      type: e.type,
      occurredAt: e.occurredAt,
      receivedAt,
      accountId: accountIds.get(e.accountExternalId) ?? null,
      contactId: null,
      visitorId: null,
      source: 'api' as const,
      idempotencyKey: e.id,
      props: e.props ?? {},
    })),
  );
  const copyText = batches.map((rows) =>
    rows
      .map((r) =>
        [r.type, r.occurredAt, r.receivedAt, r.accountId ?? '\\N', '\\N', '\\N', r.source, r.idempotencyKey]
          .concat(JSON.stringify(r.props).replace(/\\/g, '\\\\'))
          .join('\t'),
      )
      .join('\n')
      .concat('\n'),
  );
  const statementParams = batches.map((rows) => eventRowsJson(rows));
  const pool = new Pool({ connectionString: target.env.DATABASE_URL, max: concurrency });
  const run = async (write: (client: PoolClient, index: number) => Promise<unknown>) => {
    await target.sql('TRUNCATE events, usage_rollup_deltas, account_daily_usage, contact_daily_usage');
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        const client = await pool.connect();
        try {
          while (next < batches.length) await write(client, next++);
        } finally {
          client.release();
        }
      }),
    );
    const ms = performance.now() - started;
    const [row] = await target.sql<{ n: number }>('SELECT count(*)::int AS n FROM events');
    const n = row?.n ?? 0;
    if (n !== batches.length * 1000) throw new Error(`ceiling run stored ${n} of ${batches.length * 1000} rows`);
    return perSecond(n, ms);
  };
  try {
    const copyRowsPerSecond = await run((client, i) =>
      pipeline(
        Readable.from([copyText[i]!]),
        client.query(copyFrom(`COPY events (${APPENDED_EVENT_COLUMNS}) FROM STDIN`)),
      ),
    );
    const statementRowsPerSecond = await run((client, i) => client.query(APPEND_EVENTS_SQL, [statementParams[i]]));
    return { copyRowsPerSecond, statementRowsPerSecond };
  } finally {
    await pool.end();
  }
}
