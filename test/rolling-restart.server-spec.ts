import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
import { ProcessGroup } from './support/process-group';
import { freePort, stopTend, type TendProcess, waitListening, waitReady } from './support/tend-process';
import {
  closeServerSuite,
  createServerTestDatabase,
  SERVER_TRACKING_SECRET,
  serverTendEnv,
  type TestDatabase,
} from './support/test-database';

/** Whether Linux hands connections queued on a closing SO_REUSEPORT socket to another one. */
function migratesQueuedConnections(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** One GET on a new connection (no keep-alive): its status, or the connection error's code. */
function getOnce(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe('rolling restart on one port (postgres)', () => {
  let db: TestDatabase & { url: string };
  let tmp = '';
  const group = new ProcessGroup();
  const port = freePort();
  let paths: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tend-restart-'));
    db = await createServerTestDatabase();
    await db.dataSource.query(`INSERT INTO accounts (external_id, name) VALUES ('restart', 'Restart')`);
    await db.dataSource.query(
      `INSERT INTO contacts (account_id, external_id, email)
         SELECT a.id, 'restart-' || g, 'restart-' || g || '@example.com' FROM accounts a, generate_series(1, 50) g`,
    );
    const ids = Array.from({ length: 50 }, () => randomUUID());
    await db.dataSource.query(
      `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, sent_at)
         SELECT m.id, 'restart:' || m.id, c.id, c.account_id, 'onboarding/welcome', 'ja', 'operational', now() - interval '1 hour'
           FROM unnest($1::uuid[]) WITH ORDINALITY AS m(id, n) JOIN contacts c ON c.external_id = 'restart-' || m.n`,
      [ids],
    );
    const signer = new TrackingTokenSigner({
      keys: [{ kid: 'k1', secret: SERVER_TRACKING_SECRET, retiredAt: null }],
      gracePeriodMs: 0,
    });
    paths = ids.map((m) => `/t/o/${signer.sign({ k: 'o', m })}.gif`);
  });

  afterAll(() => closeServerSuite(group, tmp, db));

  const env = (name: string, reusePort: boolean): NodeJS.ProcessEnv => ({
    ...serverTendEnv(db, join(tmp, name)),
    ROLE: 'api',
    HTTP_REUSE_PORT: String(reusePort),
    TRACKING_RECORD_LIMIT_PER_MINUTE: '100000',
  });

  async function openRows(): Promise<number> {
    const [row] = await db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM events WHERE type = 'email.opened'`,
    );
    return row!.n;
  }

  it('without HTTP_REUSE_PORT a second instance on the port exits with a clear message', async () => {
    const first = group.start(env('plain-1', false), port);
    await waitReady(first);
    const second = group.start(env('plain-2', false), port);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`port ${port} on 127.0.0.1 is in use by another process`);
    expect(second.output()).toContain('HTTP_REUSE_PORT=true');
    expect(await stopTend(first)).toBe(0);
  });

  it('with HTTP_REUSE_PORT, starting the new instance before stopping the old refuses no hit and loses none', async () => {
    const before = await openRows();
    const old: TendProcess = group.start(env('reuse-1', true), port);
    await waitReady(old);

    // Four clients, each hit on a new connection, until told to stop.
    const outcomes = new Map<number | string, number>();
    let running = true;
    const clients = Array.from({ length: 4 }, async (_, c) => {
      for (let i = c; running; i += 4) {
        const outcome = await getOnce(`${old.baseUrl}${paths[i % paths.length]!}`);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const replacement = group.start(env('reuse-2', true), port);
    await waitListening(replacement);
    const oldExit = await stopTend(old);
    expect([oldExit, old.output().slice(-2000)]).toEqual([0, expect.any(String)]);
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await Promise.all(clients);
    expect(await stopTend(replacement)).toBe(0);

    const answered = outcomes.get(200) ?? 0;
    // No connection refused, no 503: the old instance stopped listening before it began to
    // close, and answered what it had accepted. A connection still in the old socket's
    // accept queue at that instant is reset by Linux unless net.ipv4.tcp_migrate_req=1 moves
    // it to the new socket: at most one per client (each has one request in flight).
    const resets = outcomes.get('ECONNRESET') ?? 0;
    expect(Object.fromEntries(outcomes)).toEqual(
      resets === 0 ? { 200: answered } : { 200: answered, ECONNRESET: resets },
    );
    expect(resets).toBeLessThanOrEqual(migratesQueuedConnections() ? 0 : 4);
    expect(answered).toBeGreaterThan(100);
    // Both processes flushed their buffers on SIGTERM: every answered hit is stored.
    expect((await openRows()) - before).toBe(answered);
  });
});
