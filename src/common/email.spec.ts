import { normaliseEmail, redactEmails } from './email';
import { createLogger } from './logger';
import { Writable } from 'node:stream';

describe('email handling', () => {
  it('normalises addresses', () => {
    expect(normaliseEmail('  Taro.Yamada@Example.CO.JP ')).toBe('taro.yamada@example.co.jp');
  });

  it('redacts plain and URL-encoded addresses', () => {
    expect(redactEmails('sent to taro@example.jp and hanako%40example.com ok')).toBe('sent to [email] and [email] ok');
  });

  it('redacts internationalized addresses too', () => {
    expect(redactEmails('550 5.1.1 <太郎@例え.jp>: rejected; ünïcode@exämple.de')).toBe(
      '550 5.1.1 <[email]>: rejected; [email]',
    );
  });
});

describe('logger', () => {
  it('never writes email addresses or API keys', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info' }, sink);
    logger.info(
      { contact: { email: 'taro@example.jp' }, req: { headers: { 'x-api-key': 'secret-key' } } },
      'imported row for hanako@example.com',
    );
    const out = lines.join('');
    expect(out).not.toContain('taro@example.jp');
    expect(out).not.toContain('hanako@example.com');
    expect(out).not.toContain('secret-key');
    expect(out).toContain('[email]');
  });
});
