import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface TendProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  baseUrl: string;
}

/** The repository root, whether this file runs from test/ (Jest) or dist/test/ (benchmarks). */
export function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

const root = findRoot(__dirname);

/** Starts the built server (`dist/src/main.js`, what `npm start` runs) as a real process. */
export function startTend(env: NodeJS.ProcessEnv, port: number): TendProcess {
  let output = '';
  const child = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited, baseUrl: `http://127.0.0.1:${port}` };
}

/** Polls readiness; returns the milliseconds it took. */
export async function waitReady(tend: TendProcess, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (tend.child.exitCode !== null) throw new Error(`Tend exited early:\n${tend.output()}`);
    try {
      const response = await fetch(`${tend.baseUrl}/health/ready`);
      if (response.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Tend not ready after ${timeoutMs} ms:\n${tend.output()}`);
}

/**
 * Waits for the process's own "Tend is listening" log line. On a port shared with
 * HTTP_REUSE_PORT, readiness could be answered by the other instance.
 */
export async function waitListening(tend: TendProcess, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!tend.output().includes('"Tend is listening"')) {
    if (tend.child.exitCode !== null) throw new Error(`Tend exited early:\n${tend.output()}`);
    if (Date.now() - started > timeoutMs)
      throw new Error(`Tend not listening after ${timeoutMs} ms:\n${tend.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function stopTend(tend: TendProcess): Promise<number | null> {
  if (tend.child.exitCode === null) tend.child.kill('SIGTERM');
  return tend.exited;
}

/**
 * Ports for spawned servers: below Linux's ephemeral range (32768-60999), so no outgoing
 * connection (a database client, a fetch) can be holding one, and a range of 400 per Jest
 * worker, so parallel test files never pick the same one (the old 39,000+ picks collided
 * with ephemeral ports: EADDRINUSE).
 */
let nextPort = 20_000 + (Number(process.env.JEST_WORKER_ID ?? '0') % 30) * 400 + Math.floor(Math.random() * 200);
export function freePort(): number {
  nextPort += 1;
  return nextPort;
}
