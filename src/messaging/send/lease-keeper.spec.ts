import { LeaseKeeper, type HeldLease, type LeaseStore } from './lease-keeper';

class FakeStore implements LeaseStore {
  calls: { held: HeldLease[]; until: number }[] = [];
  failing = false;
  /** Ids whose lease another worker took over. */
  lost = new Set<string>();
  extendLeases(held: readonly HeldLease[], until: Date): Promise<Set<string>> {
    this.calls.push({ held: [...held], until: until.getTime() });
    if (this.failing) return Promise.reject(new Error('connection refused'));
    return Promise.resolve(new Set(held.filter((h) => !this.lost.has(h.id)).map((h) => h.id)));
  }
}

describe('LeaseKeeper', () => {
  const claimed = [
    { id: 'a', leaseToken: 'ta' },
    { id: 'b', leaseToken: 'tb' },
  ];
  let now: number;
  let store: FakeStore;
  const keeper = (maxHoldMs = 3_600_000) => new LeaseKeeper(store, () => now, 60_000, 5_000, claimed, 0, maxHoldMs);

  beforeEach(() => {
    now = 0;
    store = new FakeStore();
  });

  it('holds a message until its expiry minus the margin', () => {
    const k = keeper();
    now = 54_999;
    expect(k.holds('a')).toBe(true);
    now = 55_000;
    expect(k.holds('a')).toBe(false);
    expect(k.holds('unknown')).toBe(false);
  });

  it('extends the leases still worked on, and only those the store extended', async () => {
    const k = keeper();
    k.done('b');
    store.lost.add('a');
    now = 30_000;
    await k.renew();
    expect(store.calls).toEqual([{ held: [{ id: 'a', leaseToken: 'ta' }], until: 90_000 }]);
    now = 56_000;
    expect(k.holds('a')).toBe(false);
    store.lost.clear();
    now = 40_000;
    await k.renew();
    now = 84_000;
    expect(k.holds('a')).toBe(true);
    expect(k.holds('b')).toBe(false);
  });

  it('keeps the known expiry when a renewal fails, so sends stop in time', async () => {
    const k = keeper();
    store.failing = true;
    now = 30_000;
    await expect(k.renew()).resolves.toBeUndefined();
    now = 55_000;
    expect(k.holds('a')).toBe(false);
  });

  it('runs one renewal at a time', async () => {
    const k = keeper();
    await Promise.all([k.renew(), k.renew(), k.renew()]);
    expect(store.calls).toHaveLength(1);
  });

  it('stops renewing at the longest hold, so a send that hangs gives its message up', async () => {
    const k = keeper(100_000);
    now = 70_000;
    await k.renew();
    expect(store.calls[0]!.until).toBe(100_000);
    now = 100_000;
    await k.renew();
    expect(store.calls).toHaveLength(1);
    expect(k.holds('a')).toBe(false);
  });

  it('renews on its timer until stopped', async () => {
    const k = keeper();
    k.start(5);
    const deadline = Date.now() + 5000;
    while (store.calls.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await k.stop();
    const count = store.calls.length;
    expect(count).toBeGreaterThan(1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(store.calls).toHaveLength(count);
  });
});
