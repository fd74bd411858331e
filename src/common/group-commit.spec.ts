import { GroupCommit } from './group-commit';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('GroupCommit', () => {
  it('runs a lone item at once and answers each caller with its own result', async () => {
    const runs: number[][] = [];
    const group = new GroupCommit<number, number>((items) => {
      runs.push(items);
      return Promise.resolve(items.map((i) => i * 10));
    });
    expect(await group.submit(1)).toBe(10);
    expect(runs).toEqual([[1]]);
  });

  it('batches items that arrive while runs are in flight', async () => {
    const gates: ReturnType<typeof deferred<void>>[] = [];
    const runs: number[][] = [];
    const group = new GroupCommit<number, string>(
      async (items) => {
        runs.push(items);
        const gate = deferred<void>();
        gates.push(gate);
        await gate.promise;
        return items.map((i) => `r${i}`);
      },
      100,
      1,
    );
    const answers = [1, 2, 3, 4, 5].map((i) => group.submit(i));
    expect(runs).toEqual([[1]]);
    gates[0]!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(runs).toEqual([[1], [2, 3, 4, 5]]);
    gates[1]!.resolve();
    expect(await Promise.all(answers)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
  });

  it('caps a batch at maxBatch and rejects every caller of a failed run', async () => {
    const runs: number[][] = [];
    const group = new GroupCommit<number, number>(
      (items) => {
        runs.push(items);
        return items.includes(3) ? Promise.reject(new Error('boom')) : Promise.resolve(items);
      },
      2,
      1,
    );
    const answers = [1, 2, 3, 4].map((i) => group.submit(i).catch((e: Error) => e.message));
    expect(await Promise.all(answers)).toEqual([1, 'boom', 'boom', 4]);
    expect(runs).toEqual([[1], [2, 3], [4]]);
  });
});
