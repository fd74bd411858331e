import fastify from 'fastify';
import { compileProxyTrust, resolveClientIp } from './client-ip.util';

describe('resolveClientIp', () => {
  it('ignores X-Forwarded-For unless the peer is trusted', () => {
    expect(resolveClientIp('198.51.100.7', '17.58.10.4', compileProxyTrust(false))).toBe('198.51.100.7');
    expect(resolveClientIp('198.51.100.7', '17.58.10.4', compileProxyTrust(['10.0.0.0/8']))).toBe('198.51.100.7');
  });

  it('reads X-Forwarded-For from the right through trusted proxies only', () => {
    const trust = compileProxyTrust(['10.0.0.0/8', '192.0.2.1']);
    // The client wrote a spoofed first entry; the proxy appended the address it saw.
    expect(resolveClientIp('10.1.2.3', '17.58.10.4, 203.0.113.9', trust)).toBe('203.0.113.9');
    expect(resolveClientIp('10.1.2.3', '203.0.113.9, 192.0.2.1', trust)).toBe('203.0.113.9');
    expect(resolveClientIp('10.1.2.3', '10.9.9.9', trust)).toBe('10.9.9.9');
    expect(resolveClientIp('::ffff:10.1.2.3', '203.0.113.9', trust)).toBe('203.0.113.9');
    expect(resolveClientIp('10.1.2.3', undefined, trust)).toBe('10.1.2.3');
  });

  it('trusts every hop with true, and knows the named ranges', () => {
    expect(resolveClientIp('198.51.100.7', '17.58.10.4, 203.0.113.9', compileProxyTrust(true))).toBe('17.58.10.4');
    const local = compileProxyTrust(['loopback', 'uniquelocal']);
    expect(resolveClientIp('127.0.0.1', '203.0.113.9, 172.16.4.4', local)).toBe('203.0.113.9');
    expect(resolveClientIp('::1', '2001:db8::1', local)).toBe('2001:db8::1');
  });

  it('refuses what the config schema refuses', () => {
    expect(() => compileProxyTrust(['not-an-ip'])).toThrow(/invalid trusted proxy/);
  });

  // The open pixel and click redirect resolve the client themselves (they also run
  // before Fastify); every other route uses Fastify's request.ip. Both must agree.
  it.each<[boolean | string[], string, string]>([
    [false, '203.0.113.77', '198.51.100.7'],
    [true, '17.58.10.4, 203.0.113.77', '198.51.100.7'],
    [['198.51.100.7'], '17.58.10.4, 203.0.113.77', '198.51.100.7'],
    [['198.51.100.0/24', '203.0.113.77'], '17.58.10.4, 203.0.113.77', '198.51.100.7'],
    [['loopback'], '17.58.10.4,  203.0.113.77 ', '127.0.0.1'],
    [['loopback'], 'garbage, 203.0.113.77', '127.0.0.2'],
    [['loopback'], '', '127.0.0.1'],
    [['10.0.0.0/8'], '203.0.113.77', '::ffff:10.0.0.5'],
    [['2001:db8::/32'], '203.0.113.77', '2001:db8::5'],
  ])('agrees with Fastify for trustProxy %j, X-Forwarded-For %j from %s', async (setting, xff, peer) => {
    const app = fastify({ trustProxy: setting });
    app.get('/', (request) => ({ ip: request.ip }));
    try {
      const response = await app.inject({ url: '/', remoteAddress: peer, headers: { 'x-forwarded-for': xff } });
      expect(resolveClientIp(peer, xff, compileProxyTrust(setting))).toBe(response.json<{ ip: string }>().ip);
    } finally {
      await app.close();
    }
  });
});
