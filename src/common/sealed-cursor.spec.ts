import { DomainError } from './domain-error';
import { CursorSealer } from './sealed-cursor';

describe('CursorSealer', () => {
  const sealer = new CursorSealer('a-configured-secret-0123456789', 'suppressions');

  it('round-trips the sort key through a token that does not show it', () => {
    const cursor = sealer.seal(['taro@example.jp', 3]);
    expect(Buffer.from(cursor, 'base64url').toString('latin1')).not.toContain('taro');
    expect(sealer.open(cursor, 2)).toEqual(['taro@example.jp', 3]);
  });

  it('refuses a changed token, another purpose or secret, a wrong length and garbage, as a bad cursor', () => {
    const cursor = sealer.seal(['taro@example.jp']);
    const flipped = Buffer.from(cursor, 'base64url');
    flipped[flipped.length - 1]! ^= 1;
    for (const bad of [
      () => sealer.open(flipped.toString('base64url'), 1),
      () => new CursorSealer('a-configured-secret-0123456789', 'other').open(cursor, 1),
      () => new CursorSealer('another-secret-0123456789abcdef', 'suppressions').open(cursor, 1),
      () => sealer.open(cursor, 2),
      () => sealer.open('garbage', 1),
    ]) {
      expect(bad).toThrow(DomainError);
    }
  });
});
