import { createHmac } from 'node:crypto';
import type { TrackingKey } from '../config/config.schema';
import { SigningKeyRing } from './signing-key-ring';

const NOW = Date.parse('2026-12-03T00:00:00Z');
const key = (kid: string, secret: string, retiredAt: number | null = null): TrackingKey => ({
  kid,
  secret,
  retiredAt: retiredAt === null ? null : new Date(retiredAt),
});
const tag = (ring: SigningKeyRing, kid: string) =>
  createHmac('sha256', ring.verifying(kid, NOW)!.hmacKey).update('x').digest('hex');

describe('SigningKeyRing', () => {
  it('signs with the first key and derives a different key per purpose from the same secret', () => {
    const keys = [key('k2', 'two'), key('k1', 'one')];
    const pixels = new SigningKeyRing(keys, 0, 'purpose/a');
    const pages = new SigningKeyRing(keys, 0, 'purpose/b');
    expect(pixels.current.kid).toBe('k2');
    expect(tag(pixels, 'k2')).not.toBe(tag(pages, 'k2'));
    expect(tag(pixels, 'k2')).not.toBe(tag(pixels, 'k1'));
    expect(tag(pixels, 'k2')).toBe(tag(new SigningKeyRing(keys, 0, 'purpose/a'), 'k2'));
  });

  it('verifies a retired key for the grace period only; a future retirement verifies normally', () => {
    const ring = new SigningKeyRing([key('k2', 'two'), key('k1', 'one', NOW), key('k0', 'zero', NOW + 1)], 60_000, 'p');
    expect(ring.verifying('k1', NOW + 59_999)?.kid).toBe('k1');
    expect(ring.verifying('k1', NOW + 60_000)).toBeUndefined();
    expect(ring.verifying('k0', NOW)?.kid).toBe('k0');
    expect(ring.verifying('nope', NOW)).toBeUndefined();
  });

  it('refuses an unusable configuration with a message naming the key', () => {
    expect(() => new SigningKeyRing([], 0, 'p')).toThrow(/at least one key/);
    expect(() => new SigningKeyRing([key('k1', 'one', NOW)], 0, 'p')).toThrow(/cannot be retired/);
    expect(() => new SigningKeyRing([key('k1', 'a'), key('k1', 'b')], 0, 'p')).toThrow(/k1 is used twice/);
    expect(() => new SigningKeyRing([key('bad kid', 'a')], 0, 'p')).toThrow(/"bad kid"/);
    expect(() => new SigningKeyRing([key('k1', '')], 0, 'p')).toThrow(/k1 has an empty secret/);
    expect(() => new SigningKeyRing([key('k1', 'a')], Number.NaN, 'p')).toThrow(/grace period/);
  });
});
