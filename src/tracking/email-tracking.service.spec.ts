import { ManualClock } from '../common/clock';
import type { AppConfig } from '../config/app-config';
import { EmailTrackingService } from './email-tracking.service';
import type { TrackingRecorder } from './tracking-recorder.service';
import { TrackingTokenSigner } from './tracking-token.signer';
import type { StoredLink, TrackingRepository } from './tracking.repository';

const MESSAGE = '6f1c2b7e-8d5a-4c3b-9e2f-1a0b9c8d7e6f';
const CONTACT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const HUMAN = {
  method: 'GET',
  userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15',
  ip: '203.0.113.7',
};

function setUp(findLink: (messageId: string, linkIndex: number) => Promise<StoredLink | null>) {
  const clock = new ManualClock(new Date('2026-11-20T09:00:00Z'));
  const signer = new TrackingTokenSigner({
    keys: [{ kid: 'k1', secret: 's'.repeat(40), retiredAt: null }],
    gracePeriodMs: 0,
  });
  const recorded: unknown[] = [];
  const recorder = {
    record: (hit: unknown) => recorded.push(hit) > 0,
    newKey: () => 'key',
    accepting: true,
  } as unknown as TrackingRecorder;
  const repository = { findLink: jest.fn(findLink) };
  const config = { tracking: { siteOrigins: ['https://www.acme.example'] } } as AppConfig;
  const service = new EmailTrackingService(
    signer,
    recorder,
    repository as unknown as TrackingRepository,
    clock,
    config,
  );
  return { service, signer, recorded, repository };
}

const LINK: StoredLink = {
  url: 'https://www.acme.example/docs',
  contactId: CONTACT,
  sentAt: new Date('2026-11-20T08:00:00Z'),
  linkCount: 1,
};

describe('EmailTrackingService.click', () => {
  it('answers unavailable and records nothing when the link lookup fails, then looks again', async () => {
    let fail = true;
    const { service, signer, recorded, repository } = setUp(async () => {
      if (fail) throw new Error('connection terminated unexpectedly');
      return LINK;
    });
    const token = signer.sign({ k: 'c', m: MESSAGE, l: 0 });
    await expect(service.click(token, HUMAN)).resolves.toEqual({ kind: 'unavailable' });
    expect(recorded).toEqual([]);
    fail = false;
    const outcome = await service.click(token, HUMAN);
    expect(outcome).toMatchObject({ kind: 'redirect' });
    expect(recorded).toHaveLength(1);
    expect(repository.findLink).toHaveBeenCalledTimes(2);
    // Cached after a success: no third lookup.
    await service.click(token, HUMAN);
    expect(repository.findLink).toHaveBeenCalledTimes(2);
  });

  it('answers not_found without a lookup for a bad token, and for a link that does not exist', async () => {
    const { service, signer, recorded, repository } = setUp(async () => null);
    await expect(service.click('garbage', HUMAN)).resolves.toEqual({ kind: 'not_found' });
    expect(repository.findLink).not.toHaveBeenCalled();
    await expect(service.click(signer.sign({ k: 'c', m: MESSAGE, l: 3 }), HUMAN)).resolves.toEqual({
      kind: 'not_found',
    });
    expect(recorded).toEqual([]);
  });

  it('looks a link up again while its message is not sent, so a later click sees the send time', async () => {
    let sentAt: Date | null = null;
    const { service, signer, recorded, repository } = setUp(async () => ({ ...LINK, sentAt }));
    const token = signer.sign({ k: 'c', m: MESSAGE, l: 0 });
    await service.click(token, HUMAN);
    expect(repository.findLink).toHaveBeenCalledTimes(1);
    // Sent 2 seconds before the next click: the time-since-delivery rule applies.
    sentAt = new Date('2026-11-20T08:59:58Z');
    await service.click(token, HUMAN);
    expect(repository.findLink).toHaveBeenCalledTimes(2);
    expect(recorded[1]).toMatchObject({ classification: 'bot' });
    await service.click(token, HUMAN);
    expect(repository.findLink).toHaveBeenCalledTimes(2);
  });
});
