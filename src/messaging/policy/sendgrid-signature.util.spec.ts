import { generateKeyPairSync, sign } from 'node:crypto';
import { parseSendgridPublicKey, verifySendgridSignature } from './sendgrid-signature.util';

describe('verifySendgridSignature', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = parseSendgridPublicKey(publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
  const now = new Date('2026-11-01T00:00:00Z');
  const timestamp = String(now.getTime() / 1000 - 30);
  const rawBody = Buffer.from('[{"event":"delivered","sg_event_id":"a"}]');
  const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), rawBody]), privateKey).toString('base64');

  it('accepts a genuine signature', () => {
    expect(verifySendgridSignature({ key, signature, timestamp, rawBody, now })).toBe(true);
  });

  it('accepts a PEM key too', () => {
    const pem = parseSendgridPublicKey(publicKey.export({ format: 'pem', type: 'spki' }).toString());
    expect(verifySendgridSignature({ key: pem, signature, timestamp, rawBody, now })).toBe(true);
  });

  it('refuses tampered, re-serialised, unsigned, garbage and stale requests', () => {
    const tampered = Buffer.from(rawBody.toString().replace('delivered', 'bounce'));
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(rawBody.toString()), null, 1));
    expect(verifySendgridSignature({ key, signature, timestamp, rawBody: tampered, now })).toBe(false);
    expect(verifySendgridSignature({ key, signature, timestamp, rawBody: reserialised, now })).toBe(false);
    expect(verifySendgridSignature({ key, signature: undefined, timestamp, rawBody, now })).toBe(false);
    expect(verifySendgridSignature({ key, signature: 'bm9wZQ==', timestamp, rawBody, now })).toBe(false);
    expect(verifySendgridSignature({ key, signature, timestamp: 'x', rawBody, now })).toBe(false);
    const later = new Date(now.getTime() + 11 * 60 * 1000);
    expect(verifySendgridSignature({ key, signature, timestamp, rawBody, now: later })).toBe(false);
  });

  it('refuses a key that is not ECDSA', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() => parseSendgridPublicKey(rsa.export({ format: 'der', type: 'spki' }).toString('base64'))).toThrow(
      /not an ECDSA/,
    );
  });
});
