import { createPublicKey, type KeyObject, verify } from 'node:crypto';

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';
/** Signed requests older (or further in the future) than this are refused as replays. */
export const SENDGRID_MAX_SKEW_MS = 10 * 60 * 1000;

/** Reads the configured key: base64 DER SPKI (as SendGrid shows it) or PEM. Throws on a bad setting. */
export function parseSendgridPublicKey(configured: string): KeyObject {
  const text = configured.trim();
  const key = text.includes('-----BEGIN')
    ? createPublicKey(text)
    : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ec') throw new Error('SENDGRID_WEBHOOK_PUBLIC_KEY is not an ECDSA public key');
  return key;
}

/**
 * True when `signature` (base64 DER ECDSA) signs `timestamp` followed by the raw
 * body bytes, and the timestamp (Unix seconds) is within SENDGRID_MAX_SKEW_MS of now.
 * Never throws.
 */
export function verifySendgridSignature(input: {
  key: KeyObject;
  signature: string | undefined;
  timestamp: string | undefined;
  rawBody: Buffer;
  now: Date;
}): boolean {
  const { signature, timestamp } = input;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(input.now.getTime() - Number(timestamp) * 1000) > SENDGRID_MAX_SKEW_MS) return false;
  try {
    return verify(
      'sha256',
      Buffer.concat([Buffer.from(timestamp, 'utf8'), input.rawBody]),
      { key: input.key, dsaEncoding: 'der' },
      Buffer.from(signature, 'base64'),
    );
  } catch {
    return false;
  }
}
