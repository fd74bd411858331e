import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
import { startTend, stopTend, waitListening, waitReady } from '../test/support/tend-process';
import { BENCH_TRACKING_SECRET, createTarget, type BenchTarget, freePort } from './bench-support';

export interface LoadFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  errors: number;
}

export interface PixelFigures {
  connections: number;
  /** Length of each load round. */
  durationSeconds: number;
  /** Rounds of bare then Tend, alternating, so a slower or faster spell of the machine hits both. */
  rounds: { bare: LoadFigures; tend: LoadFigures; ratio: number }[];
  /** The median round of each (by requests per second). */
  bare: LoadFigures;
  tend: LoadFigures;
  /** The median of the rounds' ratios (each round pairs a bare and a Tend load back to back). */
  ratio: number;
  /** Tend's p99 over every round: the worst. */
  worstTendP99Ms: number;
  rowsPersisted: number;
  lost: number;
  restart: { answered: number; rowsPersisted: number; lost: number; refusedDuringRestart: number };
}

async function load(url: string, paths: string[], connections: number, duration: number): Promise<LoadFigures> {
  const result = await autocannon({
    url,
    connections,
    duration,
    requests: paths.map((path) => ({ method: 'GET', path })),
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

async function seedMessages(target: BenchTarget, count: number): Promise<string[]> {
  await target.sql(`INSERT INTO accounts (external_id, name) VALUES ('bench', 'Bench')`);
  await target.sql(
    `INSERT INTO contacts (account_id, external_id, email)
     SELECT a.id, 'c-' || g, 'c' || g || '@bench.example' FROM accounts a, generate_series(1, $1) g`,
    [count],
  );
  const ids = Array.from({ length: count }, () => randomUUID());
  await target.sql(
    `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, sent_at)
     SELECT m.id, 'bench:' || m.id, c.id, c.account_id, 'bench', 'ja', 'operational', now() - interval '1 hour'
       FROM unnest($1::uuid[]) WITH ORDINALITY AS m(id, n)
       JOIN contacts c ON c.external_id = 'c-' || m.n`,
    [ids],
  );
  return ids;
}

async function countOpens(target: BenchTarget): Promise<number> {
  const [row] = await target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'email.opened'`);
  return row?.n ?? 0;
}

/**
 * Open pixel on PostgreSQL, every answered hit persisted, against a bare
 * node:http server answering the same GIF, in one run on one machine.
 */
export async function benchPixel(
  connections: number,
  durationSeconds: number,
  roundCount: number,
): Promise<PixelFigures> {
  if (!Number.isInteger(roundCount) || roundCount < 1) throw new Error(`--rounds must be 1 or more, got ${roundCount}`);
  const barePort = await freePort();
  const bare = spawn(process.execPath, [join(__dirname, 'bare-gif-server.js')], {
    env: { PORT: String(barePort) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => bare.stdout.once('data', () => resolve()));

  const target = await createTarget('postgres', {
    TRACKING_RECORD_LIMIT_PER_MINUTE: '100000',
    TRACKING_BUFFER_MAX: '500000',
  });
  try {
    const signer = new TrackingTokenSigner({
      keys: [{ kid: 'k1', secret: BENCH_TRACKING_SECRET.slice(3), retiredAt: null }],
      gracePeriodMs: 0,
    });
    const port = await freePort();
    const profile = process.env.BENCH_CPU_PROF;
    const env = {
      ...target.env,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      ROLE: 'api',
      HTTP_REUSE_PORT: 'true',
      // waitListening reads the "Tend is listening" line (info); hits are logged at debug.
      LOG_LEVEL: 'info',
      ...(profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` } : {}),
    };
    let tend = startTend(env, port);
    await waitReady(tend, 120_000);
    // Tend applied the migrations at start; now the messages the tokens name.
    const ids = await seedMessages(target, 2000);
    const paths = ids.map((m) => `/t/o/${signer.sign({ k: 'o', m })}.gif`);
    // Both servers are up (the idle one costs nothing); each round loads one, then the other.
    const rounds: PixelFigures['rounds'] = [];
    for (let round = 0; round < roundCount; round++) {
      // Tend's last flush and PostgreSQL's work on it must not overlap the bare round.
      await settled(target);
      const bareRound = await load(`http://127.0.0.1:${barePort}`, ['/t/o/x.gif'], connections, durationSeconds);
      const tendRound = await load(tend.baseUrl, paths, connections, durationSeconds);
      rounds.push({ bare: bareRound, tend: tendRound, ratio: ratio(tendRound, bareRound) });
    }
    bare.kill('SIGTERM');
    await stopTend(tend);
    const rowsPersisted = await countOpens(target);
    const tendAnswered = rounds.reduce((sum, r) => sum + r.tend.ok, 0);
    const bareFigures = middle(
      rounds.map((r) => r.bare),
      (f) => f.requestsPerSecond,
    );
    const tendFigures = middle(
      rounds.map((r) => r.tend),
      (f) => f.requestsPerSecond,
    );

    // Rolling restart under load, a third of the way in: a new instance starts on the same
    // port (HTTP_REUSE_PORT), and once it listens the old one gets SIGTERM.
    tend = startTend(env, port);
    await waitReady(tend, 120_000);
    const restartLoad = load(tend.baseUrl, paths, connections, durationSeconds);
    await new Promise((r) => setTimeout(r, (durationSeconds * 1000) / 3));
    const replacement = startTend(env, port);
    await waitListening(replacement, 120_000);
    await stopTend(tend);
    tend = replacement;
    const restartFigures = await restartLoad;
    await stopTend(tend);
    const rowsAfterRestart = (await countOpens(target)) - rowsPersisted;

    return {
      connections,
      durationSeconds,
      rounds,
      bare: bareFigures,
      tend: tendFigures,
      ratio: middle(rounds, (r) => r.ratio).ratio,
      worstTendP99Ms: Math.max(...rounds.map((r) => r.tend.p99Ms)),
      rowsPersisted,
      // Requests in flight when the load generator stops are answered and stored but not counted as answered.
      lost: Math.max(0, tendAnswered - rowsPersisted),
      restart: {
        answered: restartFigures.ok,
        rowsPersisted: rowsAfterRestart,
        lost: Math.max(0, restartFigures.ok - rowsAfterRestart),
        refusedDuringRestart: restartFigures.errors,
      },
    };
  } finally {
    if (bare.exitCode === null) bare.kill('SIGTERM');
    await target.dispose();
  }
}

/** Waits until the stored opens stop changing (Tend's buffer is written) for half a second. */
async function settled(target: BenchTarget): Promise<void> {
  let last = await countOpens(target);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await countOpens(target);
    if (now === last) return;
    last = now;
  }
}

function ratio(tend: LoadFigures, bare: LoadFigures): number {
  return Math.round((tend.requestsPerSecond / bare.requestsPerSecond) * 100) / 100;
}

/** The middle item by `key` (the lower middle of an even count). */
function middle<T>(items: readonly T[], key: (item: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor((items.length - 1) / 2)]!;
}
