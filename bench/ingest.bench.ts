import { generateAccountsNdjson, generateContactsNdjson, generatedAccountIds } from '../test/support/generate-rows';
import { generateUsageEventsBatch } from '../test/support/generate-events';
import { api, createTarget, type Engine, perSecond, startOn, stopTend } from './bench-support';

export interface IngestFigures {
  engine: Engine;
  contactsImported: number;
  importMs: number;
  importRowsPerSecond: number;
  eventsIngested: number;
  ingestMs: number;
  eventsPerSecond: number;
  concurrency: number;
}

/**
 * NDJSON import of `contacts` contacts in one request (after 1,000 accounts), then
 * `batches` x 1,000 usage events through POST /api/events with `concurrency`
 * requests in flight. Real HTTP against a real Tend process (ROLE=api).
 */
export async function benchIngest(
  engine: Engine,
  contacts: number,
  batches: number,
  concurrency: number,
): Promise<IngestFigures> {
  const target = await createTarget(engine);
  let tend: Awaited<ReturnType<typeof startOn>> | undefined;
  try {
    const running = (tend = await startOn(target));
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
    return {
      engine,
      contactsImported: contacts,
      importMs: Math.round(importMs),
      importRowsPerSecond: perSecond(contacts, importMs),
      eventsIngested: accepted,
      ingestMs: Math.round(ingestMs),
      eventsPerSecond: perSecond(accepted, ingestMs),
      concurrency,
    };
  } finally {
    // A Tend that failed to start must not leave its database behind.
    if (tend !== undefined) await stopTend(tend);
    await target.dispose();
  }
}
