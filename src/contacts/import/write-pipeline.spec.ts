import { WritePipeline } from './write-pipeline';

/** A promise with its resolve/reject exposed. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('WritePipeline', () => {
  it('starts a batch once the previous one has sent its writes, and reports results in order', async () => {
    const written: number[] = [];
    const events: string[] = [];
    const pipeline = new WritePipeline<number>((n) => written.push(n));
    const checks = [deferred<void>(), deferred<void>(), deferred<void>()];
    const writes = [deferred<number>(), deferred<number>(), deferred<number>()];
    const start = (i: number) => async () => {
      events.push(`check ${i}`);
      await checks[i]!.promise;
      events.push(`write ${i}`);
      return { written: writes[i]!.promise };
    };

    await pipeline.submit(start(0));
    const second = pipeline.submit(start(1));
    await tick();
    expect(events).toEqual(['check 0']);
    checks[0]!.resolve();
    await second;
    expect(events).toEqual(['check 0', 'write 0', 'check 1']);

    const third = pipeline.submit(start(2));
    checks[1]!.resolve();
    await tick();
    // Batch 2 waits until batch 0 is written, so at most three batches are held.
    expect(events).toEqual(['check 0', 'write 0', 'check 1', 'write 1']);
    writes[0]!.resolve(10);
    await third;
    expect(events).toEqual(['check 0', 'write 0', 'check 1', 'write 1', 'check 2']);

    checks[2]!.resolve();
    writes[1]!.resolve(11);
    writes[2]!.resolve(12);
    await pipeline.drain();
    expect(written).toEqual([10, 11, 12]);
  });

  it('throws the first failure, and abandon waits for what is in flight', async () => {
    const pipeline = new WritePipeline<number>(() => undefined);
    const failing = deferred<number>();
    await pipeline.submit(async () => ({ written: failing.promise }));
    await pipeline.submit(async () => ({ written: Promise.resolve(2) }));
    failing.reject(new Error('first'));
    await expect(pipeline.submit(async () => ({ written: Promise.resolve(3) }))).rejects.toThrow('first');
    await expect(pipeline.abandon()).resolves.toBeUndefined();
  });
});
