import { ManualClock } from '../../common/clock';
import { HandoffWorker } from '../handoff-worker.service';
import type { HandoffsService } from '../handoffs.service';
import type { HandoffNotifier } from './handoff-notifier';

describe('HandoffWorker', () => {
  it('runs escalation, delivery and digests in order, and skips a tick while one is running', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const clock = new ManualClock(new Date('2026-11-01T00:00:00Z'));
    const handoffs = {
      escalateOverdue: async () => {
        calls.push('escalate');
        await gate;
        return 0;
      },
    } as unknown as HandoffsService;
    const notifier = {
      deliverDue: async () => void calls.push('deliver'),
      sendDigests: async (now: Date) => void calls.push(`digest@${now.toISOString()}`),
    } as unknown as HandoffNotifier;
    const worker = new HandoffWorker(handoffs, notifier, clock);
    const first = worker.tick();
    await worker.tick(); // overlaps the first: a no-op
    release();
    await first;
    expect(calls).toEqual(['escalate', 'deliver', 'digest@2026-11-01T00:00:00.000Z']);
    await worker.tick();
    expect(calls).toHaveLength(6);
  });

  it('survives a failing pass', async () => {
    const handoffs = {
      escalateOverdue: () => Promise.reject(new Error('db down')),
    } as unknown as HandoffsService;
    const worker = new HandoffWorker(handoffs, {} as HandoffNotifier, new ManualClock(new Date()));
    await expect(worker.tick()).resolves.toBeUndefined();
  });
});
