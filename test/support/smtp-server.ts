import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { findRoot } from './tend-process';

export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  raw: Buffer;
}

export interface TestSmtpServer {
  url: string;
  /** Every accepted message, appended as it arrives (before the client gets its 250). */
  received: ReceivedMail[];
  /** Reject the next `n` messages at end of DATA with this SMTP code. */
  failNext(n: number, code: number): void;
  close(): Promise<void>;
}

/** What the child process (smtp-server.child.js) reports over IPC. */
type ChildMessage =
  { type: 'listening'; port: number } | { type: 'message'; id: number; from: string | null; to: string[]; raw: string };

/** What the parent answers: `code` rejects the message with that SMTP reply code, else 250. */
type ParentMessage = { type: 'verdict'; id: number; code?: number } | { type: 'close' };

const CHILD_SCRIPT = join(findRoot(__dirname), 'test', 'support', 'smtp-server.child.js');
const START_TIMEOUT_MS = 15_000;

/**
 * A real SMTP server process (smtp-server in a forked Node child) on 127.0.0.1, port 0.
 * Each message goes to this process at end of DATA; the decision to accept (recording it in
 * `received`) or to fail it (`failNext`) is made here, and the child answers the SMTP client
 * only after it, so `failNext` applies to the very next message and a message answered 250
 * is never missing from `received`. The child exits when this process goes away.
 */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let failures = 0;
  let failCode = 451;
  let closing = false;

  const child: ChildProcess = fork(CHILD_SCRIPT, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  const tell = (message: ParentMessage): void => {
    if (child.connected) child.send(message);
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('error', (error) => {
    if (!closing) console.error(`test SMTP server process: ${error.message}`);
  });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`test SMTP server did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`test SMTP server exited before listening (code ${code}, signal ${signal})`));
    });
    child.on('message', (raw: unknown) => {
      const message = raw as ChildMessage;
      switch (message.type) {
        case 'listening':
          clearTimeout(timer);
          resolve(message.port);
          return;
        case 'message':
          if (failures > 0) {
            failures -= 1;
            tell({ type: 'verdict', id: message.id, code: failCode });
            return;
          }
          received.push({
            from: message.from ?? undefined,
            to: message.to,
            raw: Buffer.from(message.raw, 'base64'),
          });
          tell({ type: 'verdict', id: message.id });
          return;
      }
    });
  });

  child.once('exit', (code, signal) => {
    if (!closing) console.error(`test SMTP server process exited unexpectedly (code ${code}, signal ${signal})`);
  });

  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    failNext(n, code) {
      failures = n;
      failCode = code;
    },
    async close() {
      closing = true;
      if (child.exitCode === null && child.signalCode === null) {
        tell({ type: 'close' });
        // The child closes lingering client connections after 1 s; never hang a test run on it.
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
}
