import { createHmac, hkdfSync } from 'node:crypto';
import type { TrackingKey } from '../config/config.schema';
import { IDENTITY_TOKEN_TTL_MS, TrackingTokenSigner, type TrackingTokenPayload } from './tracking-token.signer';

const DAY = 86_400_000;
const GRACE = 30 * DAY;
const NOW = new Date('2026-11-20T09:00:00.000Z');
const MESSAGE = '0192f3c4-5a6b-7c8d-9e0f-a1b2c3d4e5f6';
const CONTACT = '7d444840-9dc0-11d1-b245-5ffdce74fad2';
const SECRET_1 = 'first-secret-0123456789abcdefghijklmnop';
const SECRET_2 = 'second-secret-0123456789abcdefghijklmnop';

const key = (kid: string, secret: string, retiredAt: Date | null = null): TrackingKey => ({ kid, secret, retiredAt });
const signerWith = (keys: TrackingKey[], gracePeriodMs = GRACE) => new TrackingTokenSigner({ keys, gracePeriodMs });

/** Builds a token by hand from the documented layout, to test checks behind a valid tag. */
function forge(bytes: number[], secret: string): string {
  const signingKey = Buffer.from(
    hkdfSync('sha256', Buffer.from(secret), Buffer.alloc(0), 'tend/tracking-token/v1', 32),
  );
  const body = Buffer.from(bytes);
  const tag = createHmac('sha256', signingKey).update(body).digest().subarray(0, 16);
  return Buffer.concat([body, tag]).toString('base64url');
}
const uuidBytes = (uuid: string) => [...Buffer.from(uuid.replaceAll('-', ''), 'hex')];
const kidBytes = (kid: string) => [kid.length, ...Buffer.from(kid, 'ascii')];

describe('TrackingTokenSigner', () => {
  const signer = signerWith([key('k1', SECRET_1)]);

  describe('round trips', () => {
    const payloads: TrackingTokenPayload[] = [
      { k: 'o', m: MESSAGE },
      { k: 'c', m: MESSAGE, l: 0 },
      { k: 'c', m: MESSAGE, l: 7 },
      { k: 'c', m: MESSAGE, l: 65_535 },
      { k: 'u', m: MESSAGE },
      { k: 'i', c: CONTACT, exp: Math.floor(NOW.getTime() / 1000) + 600 },
    ];

    it.each(payloads)('verifies %j', (payload) => {
      const token = signer.sign(payload);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(signer.verify(token, NOW)).toEqual(payload);
    });

    it('signs deterministically and distinguishes every field', () => {
      expect(signer.sign({ k: 'o', m: MESSAGE })).toBe(signer.sign({ k: 'o', m: MESSAGE }));
      const tokens = new Set(payloads.map((p) => signer.sign(p)));
      expect(tokens.size).toBe(payloads.length);
    });

    it('accepts upper-case UUIDs and returns them lower-case', () => {
      const token = signer.sign({ k: 'u', m: MESSAGE.toUpperCase() });
      expect(signer.verify(token, NOW)).toEqual({ k: 'u', m: MESSAGE });
    });

    it('verifyKind only returns the expected kind', () => {
      const open = signer.sign({ k: 'o', m: MESSAGE });
      expect(signer.verifyKind(open, 'o', NOW)).toEqual({ k: 'o', m: MESSAGE });
      expect(signer.verifyKind(open, 'c', NOW)).toBeNull();
      expect(signer.verifyKind(open, 'u', NOW)).toBeNull();
      expect(signer.verifyKind('garbage', 'o', NOW)).toBeNull();
    });
  });

  describe('token length', () => {
    it('is 50-55 characters with a 2-character kid', () => {
      expect(signer.sign({ k: 'o', m: MESSAGE })).toHaveLength(50);
      expect(signer.sign({ k: 'u', m: MESSAGE })).toHaveLength(50);
      expect(signer.sign({ k: 'c', m: MESSAGE, l: 12 })).toHaveLength(52);
      expect(signer.signIdentity(CONTACT, NOW)).toHaveLength(55);
    });

    it('is at most 74 characters with the longest (16-character) kid', () => {
      const longKid = signerWith([key('abcdefghijklmnop', SECRET_1)]);
      expect(longKid.sign({ k: 'c', m: MESSAGE, l: 12 })).toHaveLength(71);
      expect(longKid.signIdentity(CONTACT, NOW)).toHaveLength(74);
    });
  });

  describe('tampering', () => {
    const tokens = {
      open: signer.sign({ k: 'o', m: MESSAGE }),
      click: signer.sign({ k: 'c', m: MESSAGE, l: 3 }),
      identity: signer.signIdentity(CONTACT, NOW),
    };

    it.each(Object.entries(tokens))('fails when any single byte of the %s token changes', (_name, token) => {
      const bytes = Buffer.from(token, 'base64url');
      for (let index = 0; index < bytes.length; index++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const tampered = Buffer.from(bytes);
          tampered[index] = (tampered[index] ?? 0) ^ mask;
          expect(signer.verify(tampered.toString('base64url'), NOW)).toBeNull();
        }
      }
    });

    it.each(Object.entries(tokens))('fails when any single character of the %s token changes', (_name, token) => {
      for (let index = 0; index < token.length; index++) {
        const replacement = token[index] === 'A' ? 'B' : 'A';
        const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
        expect(signer.verify(tampered, NOW)).toBeNull();
      }
    });

    it('refuses a non-canonical spelling whose trailing bits decode to the same bytes', () => {
      const token = tokens.open; // 37 bytes: the last character carries 4 unused bits
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(token.slice(-1));
      const sibling = token.slice(0, -1) + alphabet.charAt(last | 0x01);
      expect(Buffer.from(sibling, 'base64url').equals(Buffer.from(token, 'base64url'))).toBe(true);
      expect(signer.verify(sibling, NOW)).toBeNull();
    });

    it('fails when bytes are appended or removed', () => {
      const bytes = Buffer.from(tokens.click, 'base64url');
      expect(signer.verify(Buffer.concat([bytes, Buffer.of(0)]).toString('base64url'), NOW)).toBeNull();
      expect(signer.verify(bytes.subarray(0, -1).toString('base64url'), NOW)).toBeNull();
      expect(signer.verify(`${tokens.click}==`, NOW)).toBeNull();
    });
  });

  describe('key rotation', () => {
    const retiredAt = new Date('2026-11-01T00:00:00.000Z');
    const oldSigner = signerWith([key('k1', SECRET_1)]);
    const oldToken = oldSigner.sign({ k: 'c', m: MESSAGE, l: 1 });
    const rotated = signerWith([key('k2', SECRET_2), key('k1', SECRET_1, retiredAt)]);

    it('signs with the first key', () => {
      expect(rotated.currentKid).toBe('k2');
      const token = rotated.sign({ k: 'o', m: MESSAGE });
      expect(rotated.verify(token, NOW)).toEqual({ k: 'o', m: MESSAGE });
      expect(oldSigner.verify(token, NOW)).toBeNull();
    });

    it('verifies a token of a retired key inside the grace period', () => {
      expect(rotated.verify(oldToken, new Date(retiredAt.getTime() + 1))).toEqual({ k: 'c', m: MESSAGE, l: 1 });
      expect(rotated.verify(oldToken, new Date(retiredAt.getTime() + GRACE - 1))).not.toBeNull();
    });

    it('refuses it once the grace period is over', () => {
      expect(rotated.verify(oldToken, new Date(retiredAt.getTime() + GRACE))).toBeNull();
      expect(rotated.verify(oldToken, new Date(retiredAt.getTime() + GRACE + DAY))).toBeNull();
    });

    it('keeps verifying unsubscribe tokens of a retired key after the grace period, while it is configured', () => {
      const optOut = oldSigner.sign({ k: 'u', m: MESSAGE });
      const years = new Date(retiredAt.getTime() + GRACE + 3 * 365 * DAY);
      expect(rotated.verifyKind(optOut, 'u', years)).toEqual({ k: 'u', m: MESSAGE });
      // Pixels and clicks of that key do not.
      expect(rotated.verify(oldSigner.sign({ k: 'o', m: MESSAGE }), years)).toBeNull();
      // A key no longer configured verifies nothing.
      expect(signerWith([key('k2', SECRET_2)]).verify(optOut, NOW)).toBeNull();
    });

    it('still accepts a key whose retirement is in the future', () => {
      const scheduled = signerWith([key('k2', SECRET_2), key('k1', SECRET_1, new Date(NOW.getTime() + DAY))], 0);
      expect(scheduled.verify(oldToken, NOW)).not.toBeNull();
      expect(scheduled.verify(oldToken, new Date(NOW.getTime() + DAY))).toBeNull();
    });

    it('refuses an unknown kid, and a known kid with another secret', () => {
      const foreign = signerWith([key('zz', SECRET_1)]).sign({ k: 'o', m: MESSAGE });
      expect(signer.verify(foreign, NOW)).toBeNull();
      const impostor = signerWith([key('k1', SECRET_2)]).sign({ k: 'o', m: MESSAGE });
      expect(signer.verify(impostor, NOW)).toBeNull();
    });
  });

  describe('identity tokens', () => {
    it('expire after ten minutes by default', () => {
      const token = signer.signIdentity(CONTACT, NOW);
      expect(signer.verify(token, new Date(NOW.getTime() + IDENTITY_TOKEN_TTL_MS - 1000))).toEqual({
        k: 'i',
        c: CONTACT,
        exp: NOW.getTime() / 1000 + 600,
      });
      expect(signer.verify(token, new Date(NOW.getTime() + IDENTITY_TOKEN_TTL_MS))).toBeNull();
      expect(signer.verify(token, new Date(NOW.getTime() + DAY))).toBeNull();
    });

    it('take a custom lifetime, rounded up to a whole second', () => {
      const token = signer.signIdentity(CONTACT, new Date(NOW.getTime() + 1), 30_000);
      expect(signer.verify(token, NOW)).toMatchObject({ exp: NOW.getTime() / 1000 + 31 });
    });
  });

  describe('garbage never throws', () => {
    const valid = signer.sign({ k: 'o', m: MESSAGE });

    it.each([
      '',
      'a',
      'AAAA',
      '!!!!',
      'not a token',
      `${valid}=`,
      `${valid}\n`,
      ` ${valid}`,
      valid.replaceAll('-', '+').replaceAll('_', '/') + (valid.includes('-') || valid.includes('_') ? '' : '+'),
      'A'.repeat(50),
      'A'.repeat(10_000),
      '%00%00',
      '\u0000'.repeat(60),
      '日本語のトークン',
    ])('refuses %j', (token) => {
      expect(signer.verify(token, NOW)).toBeNull();
    });

    it('refuses non-string input', () => {
      for (const token of [undefined, null, 42, {}, [valid], Buffer.from(valid)]) {
        expect(signer.verify(token, NOW)).toBeNull();
      }
    });

    it('refuses an invalid date', () => {
      expect(signer.verify(valid, new Date(Number.NaN))).toBeNull();
      expect(signer.verify(signer.signIdentity(CONTACT, NOW), new Date('nope'))).toBeNull();
    });

    it('refuses an unknown version or kind even behind a valid tag', () => {
      const fields = [...kidBytes('k1'), ...uuidBytes(MESSAGE)];
      expect(signer.verify(forge([0x01, 0x01, ...fields], SECRET_1), NOW)).toEqual({ k: 'o', m: MESSAGE });
      expect(signer.verify(forge([0x02, 0x01, ...fields], SECRET_1), NOW)).toBeNull();
      expect(signer.verify(forge([0x00, 0x01, ...fields], SECRET_1), NOW)).toBeNull();
      expect(signer.verify(forge([0x01, 0x05, ...fields], SECRET_1), NOW)).toBeNull();
      expect(signer.verify(forge([0x01, 0x00, ...fields], SECRET_1), NOW)).toBeNull();
    });

    it('refuses a kid length of 0 or over 16, and fields of the wrong size, behind a valid tag', () => {
      expect(signer.verify(forge([0x01, 0x01, 0, ...uuidBytes(MESSAGE)], SECRET_1), NOW)).toBeNull();
      expect(signer.verify(forge([0x01, 0x01, 17, ...Buffer.from('k1'.padEnd(17, 'x'))], SECRET_1), NOW)).toBeNull();
      // A click token without its link index, and an open token with 2 extra bytes.
      expect(signer.verify(forge([0x01, 0x02, ...kidBytes('k1'), ...uuidBytes(MESSAGE)], SECRET_1), NOW)).toBeNull();
      expect(
        signer.verify(forge([0x01, 0x01, ...kidBytes('k1'), ...uuidBytes(MESSAGE), 0, 1], SECRET_1), NOW),
      ).toBeNull();
    });
  });

  describe('programming errors throw', () => {
    it('on payloads that cannot be encoded', () => {
      expect(() => signer.sign({ k: 'o', m: 'not-a-uuid' })).toThrow(TypeError);
      expect(() => signer.sign({ k: 'o', m: `${MESSAGE}0` })).toThrow(TypeError);
      expect(() => signer.sign({ k: 'c', m: MESSAGE, l: -1 })).toThrow(/link index/);
      expect(() => signer.sign({ k: 'c', m: MESSAGE, l: 65_536 })).toThrow(/link index/);
      expect(() => signer.sign({ k: 'c', m: MESSAGE, l: 1.5 })).toThrow(/link index/);
      expect(() => signer.sign({ k: 'i', c: CONTACT, exp: 2 ** 32 })).toThrow(/expiry/);
      expect(() => signer.sign({ k: 'x', m: MESSAGE } as unknown as TrackingTokenPayload)).toThrow(/unknown/);
    });

    it('on unusable key configurations', () => {
      expect(() => signerWith([])).toThrow(/at least one key/);
      expect(() => signerWith([key('k1', SECRET_1, NOW)])).toThrow(/cannot be retired/);
      expect(() => signerWith([key('k1', SECRET_1), key('k1', SECRET_2, NOW)])).toThrow(/used twice/);
      expect(() => signerWith([key('bad kid', SECRET_1)])).toThrow(/key id/);
      expect(() => signerWith([key('k1', SECRET_1)], -1)).toThrow(/grace period/);
    });
  });
});
