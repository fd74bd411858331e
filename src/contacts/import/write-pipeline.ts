/** A batch whose checks are done and whose writes are sent; `written` settles when they complete. */
export interface IssuedWrite<R> {
  written: Promise<R>;
}

/**
 * Keeps one connection busy while the next batch is parsed: a batch's checks
 * start as soon as the previous batch has sent its writes. Statements on one
 * connection run in the order they are sent, so each batch's checks still see
 * every earlier batch written. At most three batches are held: one written,
 * one checked, one being parsed. Results are handed over in submission order,
 * and the first failure is the one thrown.
 */
export class WritePipeline<R> {
  private checking: Promise<IssuedWrite<R>> | undefined;
  private writing: Promise<R> | undefined;

  constructor(private readonly onWritten: (result: R) => void) {}

  /** Waits for room, then starts `start` (the checks of a batch, which then sends its writes). */
  async submit(start: () => Promise<IssuedWrite<R>>): Promise<void> {
    await this.settleWriting();
    if (this.checking !== undefined) {
      const issued = await this.checking;
      this.writing = quiet(issued.written);
    }
    this.checking = quiet(start());
  }

  /** Waits for every submitted batch to be written. */
  async drain(): Promise<void> {
    await this.settleWriting();
    if (this.checking !== undefined) {
      const issued = await this.checking;
      this.checking = undefined;
      this.onWritten(await issued.written);
    }
  }

  /** After a failure elsewhere: waits for whatever is in flight to settle, ignoring how. */
  async abandon(): Promise<void> {
    const checking = this.checking;
    this.checking = undefined;
    this.writing = undefined;
    const issued = await checking?.catch(() => undefined);
    await issued?.written.catch(() => undefined);
  }

  private async settleWriting(): Promise<void> {
    if (this.writing === undefined) return;
    const writing = this.writing;
    this.writing = undefined;
    this.onWritten(await writing);
  }
}

/** Marks a promise handled (it is awaited later), so a failure is not reported as unhandled meanwhile. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
