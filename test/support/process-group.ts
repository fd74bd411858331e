import { freePort, startTend, type TendProcess } from './tend-process';

/** One parsed line of a Tend process's JSON log. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** The JSON log lines of a process's output (other output, such as banners, is skipped). */
export function logLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line cut mid-write by SIGKILL
    }
  }
  return lines;
}

/**
 * Tend processes a test starts, so that none outlives it: `killAll()` in `afterAll` (it
 * runs when a test failed too), and SIGKILL when the test process itself exits first.
 */
export class ProcessGroup {
  private readonly started: TendProcess[] = [];
  private readonly onExit = () => {
    for (const p of this.started) if (running(p)) p.child.kill('SIGKILL');
  };

  constructor() {
    process.once('exit', this.onExit);
  }

  start(env: NodeJS.ProcessEnv, port: number = freePort()): TendProcess {
    const tend = startTend(env, port);
    this.started.push(tend);
    return tend;
  }

  /** SIGKILL, as a crash or an OOM kill would: no shutdown hook runs. Resolves once it is gone. */
  async kill(tend: TendProcess): Promise<void> {
    if (running(tend)) tend.child.kill('SIGKILL');
    await tend.exited;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.started.map((p) => this.kill(p)));
    process.removeListener('exit', this.onExit);
  }
}

function running(tend: TendProcess): boolean {
  return tend.child.exitCode === null && tend.child.signalCode === null;
}
