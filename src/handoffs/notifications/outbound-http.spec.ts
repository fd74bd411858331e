import { forbiddenAddressReason, isAllowedHost, OutboundError, postJson } from './outbound-http';

async function refusal(url: string, resolved?: string[], allowHosts: string[] = []): Promise<OutboundError> {
  const error = await postJson(
    url,
    { text: 'x' },
    {
      allowHosts,
      timeoutMs: 500,
      ...(resolved
        ? { resolve: async () => resolved.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })) }
        : {}),
    },
  ).then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  return error as OutboundError;
}

describe('outbound-http', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['224.0.0.251', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:0a00:0001::1', 'private'],
    ['fe80::1%eth0', 'link-local'],
    ['2001:db8::1', 'documentation'],
    ['100::1', 'discard-only'],
    ['::a00:1', 'IPv4-compatible'],
    ['192.0.2.7', 'documentation'],
    ['198.19.0.1', 'benchmarking'],
    ['not-an-ip', 'not an IP address'],
  ])('%s is %s', (address, label) => {
    expect(forbiddenAddressReason(address)).toContain(label);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '::ffff:8.8.8.8', '100.128.0.1', '172.32.0.1'])(
    '%s is public',
    (address) => {
      expect(forbiddenAddressReason(address)).toBeNull();
    },
  );

  it('refuses link-local, private and loopback literals with the reason', async () => {
    expect((await refusal('http://169.254.169.254/latest/meta-data')).message).toBe(
      'refused: 169.254.169.254 is a link-local address',
    );
    expect((await refusal('http://10.0.0.1/hook')).message).toBe('refused: 10.0.0.1 is a private address');
    const v6 = await refusal('http://[::1]:8080/hook');
    expect(v6.kind).toBe('refused');
    expect(v6.message).toBe('refused: ::1 is a loopback address');
    expect((await refusal('http://[::ffff:127.0.0.1]/hook')).message).toContain('loopback');
    expect((await refusal('http://127.0.0.1:9/hook')).message).toBe('refused: 127.0.0.1 is a loopback address');
  });

  it('refuses a name when any of its addresses is private', async () => {
    const e = await refusal('https://hooks.example.com/x', ['93.184.216.34', '192.168.0.10']);
    expect(e.message).toBe('refused: 192.168.0.10 is a private address');
  });

  it('refuses schemes other than http and https, and credentials', async () => {
    expect((await refusal('ftp://example.com/x')).message).toContain('scheme');
    expect((await refusal('file:///etc/passwd')).message).toContain('scheme');
    expect((await refusal('https://user:pw@example.com/x')).message).toContain('credentials');
  });

  it('lets allowed hosts through (host, or host:port)', () => {
    expect(isAllowedHost(['127.0.0.1:8080'], '127.0.0.1', 8080)).toBe(true);
    expect(isAllowedHost(['127.0.0.1:8080'], '127.0.0.1', 8081)).toBe(false);
    expect(isAllowedHost(['localhost'], 'LOCALHOST', 1)).toBe(true);
    expect(isAllowedHost(['[::1]:80'], '[::1]', 80)).toBe(true);
  });

  it('connects to an allowed private address, a connection failure being a retryable failure', async () => {
    const error = await postJson('http://127.0.0.1:1/hook', {}, { allowHosts: ['127.0.0.1:1'], timeoutMs: 2000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe('failed');
  });
});
