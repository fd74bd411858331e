import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium package; CI installs it with apt. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A stock desktop Chrome user agent. Headless Chromium's own says `HeadlessChrome`,
 * which Tend rightly classifies as a bot (no identity on click-through).
 */
export const DESKTOP_CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** Launches headless Chromium; throws (never skips) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is required for the browser tests but ${CHROMIUM_PATH} does not exist. ` +
        'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium binary).',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The test site is served as `localhost` but listens on 127.0.0.1 only: connect there
      // directly (not ::1 first), and never through a proxy taken from the environment.
      // (An ERR_NAME_NOT_RESOLVED in the click test was not about localhost: the send worker had
      // replaced the stored link with a template's https://app.example.com/... one; see the spec.)
      '--host-resolver-rules=MAP localhost 127.0.0.1',
      '--no-proxy-server',
    ],
    timeout: 30_000,
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freeLocalPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads `read()` every `intervalMs` until `accept` holds, and returns that value.
 * Fails after `timeoutMs` with `what` and the last value read (or error thrown),
 * or as soon as `signal` aborts.
 */
export async function waitUntil<T>(
  what: string,
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  {
    timeoutMs = 5_000,
    intervalMs = 10,
    signal,
  }: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const started = Date.now();
  for (;;) {
    if (signal?.aborted) throw new Error(`Stopped waiting for ${what}`);
    let last: { value: T } | { error: unknown };
    try {
      const value = await read();
      if (accept(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() - started >= timeoutMs) {
      const seen = 'error' in last ? `error ${String(last.error)}` : JSON.stringify(last.value, null, 2);
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${seen}`);
    }
    await sleep(intervalMs);
  }
}
