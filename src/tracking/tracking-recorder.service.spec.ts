import type { AppConfig } from '../config/app-config';
import type { TrackingKey } from '../config/config.schema';
import { hashIp } from './ip-anonymiser.util';
import { estimatedBytes, TrackingRecorder } from './tracking-recorder.service';
import type { TrackingEventRow, TrackingRepository } from './tracking.repository';

const UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const ID = '0190a4b2-0000-7000-8000-000000000001';

describe('estimatedBytes', () => {
  it('counts a site event by its page text and props, so a large one weighs what it holds', () => {
    const at = new Date();
    const open = estimatedBytes({
      kind: 'open',
      key: ID,
      at,
      messageId: ID,
      method: 'GET',
      userAgent: UA,
      rawIp: '203.0.113.7',
    });
    const big = 'x'.repeat(500);
    const site = estimatedBytes({
      kind: 'site',
      key: `${ID}:${ID}`,
      at,
      visitorId: ID,
      type: 'site.page_viewed',
      rawIp: '203.0.113.7',
      userAgent: UA,
      props: {
        url: `https://www.acme.example/${'p'.repeat(1990)}`,
        path: '/p',
        title: big,
        referrer: `https://www.acme.example/${'r'.repeat(1990)}`,
        props: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, big])),
      },
    });
    expect(open).toBeGreaterThan(600);
    expect(open).toBeLessThan(1_500);
    // ~15k characters of text at two bytes each.
    expect(site).toBeGreaterThan(30_000);
    // The default 128 MiB holds every one of 100,000 opens, and ~4,000 of these site events.
    expect(100_000 * open).toBeLessThan(134_217_728);
  });
});

describe('TrackingRecorder IP hashing', () => {
  /** Records one open from `ip` with the given keys and returns the stored ip prop. */
  async function storedIp(keys: TrackingKey[], ipHashSecret: string | undefined): Promise<unknown> {
    const written: TrackingEventRow[] = [];
    const repository = {
      sentTimes: async (ids: string[]) => new Map(ids.map((id) => [id, Date.now() - 3_600_000])),
      writeBatch: async (events: TrackingEventRow[]) => {
        written.push(...events);
        return events.length;
      },
    } as unknown as TrackingRepository;
    const config = {
      tracking: {
        keys,
        ipMode: 'hash',
        ipHashSecret,
        bufferMax: 100,
        bufferMaxBytes: 1_048_576,
        flushIntervalMs: 1_000,
        recordLimitPerMinute: 20,
      },
    } as unknown as AppConfig;
    const recorder = new TrackingRecorder(repository, config);
    recorder.record(
      { kind: 'open', key: ID, at: new Date(), messageId: ID, method: 'GET', userAgent: UA, rawIp: '203.0.113.7' },
      'token',
    );
    await recorder.onModuleDestroy();
    return written[0]?.props.ip;
  }
  const oldKey: TrackingKey = { kid: 'k1', secret: 'old-secret-0123456789', retiredAt: null };
  const newKey: TrackingKey = { kid: 'k2', secret: 'new-secret-0123456789', retiredAt: null };

  it('stores a keyed hash, never the address, with TRACKING_IP_HASH_SECRET across every key rotation', async () => {
    const secret = 'ip-hash-secret-0123456789';
    const before = await storedIp([oldKey], secret);
    expect(before).toBe(hashIp('203.0.113.7', secret));
    expect(JSON.stringify(before)).not.toContain('203.0.113');
    // k2 signs, then k1 is removed: the hashes stay the same.
    expect(await storedIp([newKey, oldKey], secret)).toBe(before);
    expect(await storedIp([newKey], secret)).toBe(before);
  });

  it('without it, keys the hash on the oldest tracking key: the same until that key is removed', async () => {
    const before = await storedIp([oldKey], undefined);
    expect(await storedIp([newKey, oldKey], undefined)).toBe(before);
    expect(await storedIp([newKey], undefined)).not.toBe(before);
  });
});
