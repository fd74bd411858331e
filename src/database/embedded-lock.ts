import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `The embedded database in ${dataDir} is already in use by process ${holderPid}. ` +
        'Stop that Tend instance first, or set DATA_DIR to another directory. ' +
        'To run several instances, use a PostgreSQL server (DATABASE_URL).',
    );
    this.name = 'DataDirLockedError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite does not lock its data directory, so Tend holds `tend.lock` (created
 * exclusively, holding the owner's pid). A lock left by a dead process is taken over.
 */
export class DataDirLock {
  /** Lock files this process holds, so a second opener in the same process is refused too. */
  private static readonly held = new Set<string>();
  private released = false;

  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'tend.lock');
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        DataDirLock.held.add(file);
        return new DataDirLock(file);
      } catch (error: unknown) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number(readFileSync(file, 'utf8').trim());
        const ours = holder === process.pid && DataDirLock.held.has(file);
        if (ours || (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder))) {
          throw new DataDirLockedError(dataDir, holder);
        }
        // Stale lock from a crashed process (or unreadable): remove it and retry once.
        unlinkSync(file);
      }
    }
    throw new Error(`Could not acquire ${file}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    DataDirLock.held.delete(this.file);
    if (existsSync(this.file) && readFileSync(this.file, 'utf8').trim() === String(process.pid)) unlinkSync(this.file);
  }
}
