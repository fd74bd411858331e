import { formatIpAddress, isIpInCidr, maskIpAddress, parseCidr, parseIpAddress, type IpCidr } from './ip-address.util';

const roundTrip = (text: string) => {
  const parsed = parseIpAddress(text);
  return parsed === null ? null : formatIpAddress(parsed);
};

describe('parseIpAddress / formatIpAddress', () => {
  it('parses IPv4', () => {
    expect(parseIpAddress('203.0.113.77')).toEqual({ family: 4, bytes: Uint8Array.of(203, 0, 113, 77) });
    expect(roundTrip(' 10.0.0.1 ')).toBe('10.0.0.1');
  });

  it('parses IPv6 in every textual form and prints RFC 5952', () => {
    expect(roundTrip('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(roundTrip('2001:db8::1')).toBe('2001:db8::1');
    expect(roundTrip('::')).toBe('::');
    expect(roundTrip('::1')).toBe('::1');
    expect(roundTrip('fe80::')).toBe('fe80::');
    expect(roundTrip('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    // The longest zero run is compressed, the first one on a tie.
    expect(roundTrip('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(roundTrip('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    // IPv4-compatible (not mapped) stays IPv6.
    expect(roundTrip('::1.2.3.4')).toBe('::102:304');
    expect(roundTrip('64:ff9b::192.0.2.33')).toBe('64:ff9b::c000:221');
  });

  it('unwraps IPv4-mapped IPv6 to IPv4', () => {
    expect(parseIpAddress('::ffff:1.2.3.4')).toEqual({ family: 4, bytes: Uint8Array.of(1, 2, 3, 4) });
    expect(roundTrip('::FFFF:102:304')).toBe('1.2.3.4');
    expect(roundTrip('0:0:0:0:0:ffff:1.2.3.4')).toBe('1.2.3.4');
  });

  it('drops an IPv6 zone id but refuses one on IPv4', () => {
    expect(roundTrip('fe80::1%eth0')).toBe('fe80::1');
    expect(roundTrip('fe80::1%25')).toBe('fe80::1');
    expect(parseIpAddress('1.2.3.4%eth0')).toBeNull();
    expect(parseIpAddress('%eth0')).toBeNull();
  });

  it.each([
    '',
    '   ',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4/24',
    '[::1]',
    '2001:db8::1::2',
    '2001:db8:1:2:3:4:5:6:7',
    'gggg::1',
    '::ffff:1.2.3.256',
    '1.2.3.4:80',
    'x'.repeat(10_000),
  ])('refuses %j', (text) => {
    expect(parseIpAddress(text)).toBeNull();
  });

  it('refuses non-strings without throwing', () => {
    expect(parseIpAddress(undefined)).toBeNull();
    expect(parseIpAddress(null)).toBeNull();
    expect(parseIpAddress(1234)).toBeNull();
    expect(parseIpAddress(['1.2.3.4'])).toBeNull();
  });
});

describe('maskIpAddress', () => {
  it('keeps the prefix bits only', () => {
    const ip = parseIpAddress('203.0.113.77')!;
    expect(formatIpAddress(maskIpAddress(ip, 24))).toBe('203.0.113.0');
    expect(formatIpAddress(maskIpAddress(ip, 20))).toBe('203.0.112.0');
    expect(formatIpAddress(maskIpAddress(ip, 0))).toBe('0.0.0.0');
    expect(formatIpAddress(maskIpAddress(ip, 32))).toBe('203.0.113.77');
    const v6 = parseIpAddress('2001:db8:abcd:1234::5')!;
    expect(formatIpAddress(maskIpAddress(v6, 48))).toBe('2001:db8:abcd::');
    expect(formatIpAddress(maskIpAddress(v6, 44))).toBe('2001:db8:abc0::');
  });
});

describe('parseCidr / isIpInCidr', () => {
  const cidr = (text: string): IpCidr => {
    const parsed = parseCidr(text);
    if (parsed === null) throw new Error(`bad test CIDR ${text}`);
    return parsed;
  };

  it('tests membership for IPv4 and IPv6 ranges', () => {
    const apple = cidr('17.0.0.0/8');
    expect(isIpInCidr(parseIpAddress('17.58.1.2')!, apple)).toBe(true);
    expect(isIpInCidr(parseIpAddress('::ffff:17.58.1.2')!, apple)).toBe(true);
    expect(isIpInCidr(parseIpAddress('18.0.0.1')!, apple)).toBe(false);
    expect(isIpInCidr(parseIpAddress('16.255.255.255')!, apple)).toBe(false);
    const v6 = cidr('2620:149::/32');
    expect(isIpInCidr(parseIpAddress('2620:149:a:1::7')!, v6)).toBe(true);
    expect(isIpInCidr(parseIpAddress('2620:14a::1')!, v6)).toBe(false);
    expect(isIpInCidr(parseIpAddress('17.0.0.1')!, v6)).toBe(false);
  });

  it('clears host bits and handles odd prefixes', () => {
    expect(cidr('17.1.2.3/8')).toEqual({ family: 4, network: Uint8Array.of(17, 0, 0, 0), prefixLength: 8 });
    const odd = cidr('10.0.0.0/13');
    expect(isIpInCidr(parseIpAddress('10.7.255.255')!, odd)).toBe(true);
    expect(isIpInCidr(parseIpAddress('10.8.0.0')!, odd)).toBe(false);
    expect(isIpInCidr(parseIpAddress('8.8.8.8')!, cidr('0.0.0.0/0'))).toBe(true);
  });

  it.each(['17.0.0.0', '17.0.0.0/33', '::/129', '17.0.0.0/x', '17.0.0.0/-1', 'nope/8', '/8'])('refuses %j', (text) => {
    expect(parseCidr(text)).toBeNull();
  });
});
