import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { cursorValues } from './pagination';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Cursors whose sort key must not be readable in a URL (an email address): the key is
 * encrypted and authenticated (AES-256-GCM) under a key derived from a configured secret,
 * so proxies and access logs see only an opaque token, and a forged one is refused.
 * Cursors from before a key rotation are refused as invalid; the list is read again.
 */
export class CursorSealer {
  private readonly key: Buffer;

  constructor(secret: string, purpose: string) {
    this.key = Buffer.from(
      hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `tend/cursor/${purpose}`, 32),
    );
  }

  seal(values: readonly (string | number)[]): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The values sealed into `cursor`, or a 400 naming `cursor` for anything else. */
  open(cursor: string, length: number): (string | number)[] {
    let parsed: unknown;
    try {
      const bytes = Buffer.from(cursor, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      parsed = JSON.parse(text.toString('utf8'));
    } catch {
      // a bad tag, a short or garbled token: the same answer as any other bad cursor
      parsed = undefined;
    }
    return cursorValues(parsed, length);
  }
}
