import { anonymiseIp, hashIp } from './ip-anonymiser.util';

describe('anonymiseIp', () => {
  it('truncates IPv4 to /24', () => {
    expect(anonymiseIp('203.0.113.77')).toBe('203.0.113.0');
    expect(anonymiseIp('10.0.0.255')).toBe('10.0.0.0');
    expect(anonymiseIp('255.255.255.255')).toBe('255.255.255.0');
  });

  it('truncates IPv6 to /48', () => {
    expect(anonymiseIp('2001:db8:abcd:1234:5678:9abc:def0:1234')).toBe('2001:db8:abcd::');
    expect(anonymiseIp('2001:DB8:ABCD:0012::1')).toBe('2001:db8:abcd::');
    expect(anonymiseIp('2001:db8::1')).toBe('2001:db8::');
    expect(anonymiseIp('::1')).toBe('::');
  });

  it('treats IPv4-mapped IPv6 as the IPv4 address it carries', () => {
    expect(anonymiseIp('::ffff:198.51.100.23')).toBe('198.51.100.0');
    expect(anonymiseIp('::FFFF:C633:6417')).toBe('198.51.100.0');
  });

  it('drops zone ids', () => {
    expect(anonymiseIp('fe80::1:2:3:4%en0')).toBe('fe80::');
  });

  it('returns null for invalid input instead of throwing', () => {
    for (const bad of [
      '',
      'unknown',
      '1.2.3.4.5',
      '999.1.1.1',
      '1.2.3.4, 5.6.7.8',
      '2001:db8::g',
      null,
      undefined,
      42,
    ]) {
      expect(anonymiseIp(bad)).toBeNull();
    }
  });

  it('never returns the full address', () => {
    expect(anonymiseIp('192.0.2.123')).not.toContain('123');
  });
});

describe('hashIp', () => {
  const key = 'k'.repeat(32);

  it('returns 32 hex characters, stable for one key', () => {
    const hash = hashIp('203.0.113.77', key);
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(hashIp('203.0.113.77', key)).toBe(hash);
  });

  it('hashes every spelling of one address the same', () => {
    expect(hashIp('::ffff:203.0.113.77', key)).toBe(hashIp('203.0.113.77', key));
    expect(hashIp('2001:DB8:0:0::1', key)).toBe(hashIp('2001:db8::1', key));
    expect(hashIp(' 2001:db8::1 ', key)).toBe(hashIp('2001:db8::1', key));
  });

  it('differs per address and per key', () => {
    expect(hashIp('203.0.113.77', key)).not.toBe(hashIp('203.0.113.78', key));
    expect(hashIp('203.0.113.77', key)).not.toBe(hashIp('203.0.113.77', 'j'.repeat(32)));
    expect(hashIp('203.0.113.77', Buffer.from(key))).toBe(hashIp('203.0.113.77', key));
  });

  it('keeps IPv4 and IPv6 apart (0.0.0.1 is not ::1)', () => {
    expect(hashIp('0.0.0.1', key)).not.toBe(hashIp('::1', key));
  });

  it('returns null for invalid addresses and throws on a short key', () => {
    expect(hashIp('not-an-ip', key)).toBeNull();
    expect(() => hashIp('1.2.3.4', 'short')).toThrow(/at least 16 bytes/);
  });
});
