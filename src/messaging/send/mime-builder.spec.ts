import { simpleParser } from 'mailparser';
import { buildMime, formatAddress } from './mime-builder';
import { SAMPLE_MESSAGE_ID, sampleOutgoingMail } from '../../../test/support/outgoing-mail.fixture';

const ID = SAMPLE_MESSAGE_ID;
const mail = sampleOutgoingMail;

/** The header block with folded lines joined (RFC 5322 unfolding). */
function unfoldHead(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 2).replace(/\r\n[ \t]+/g, ' ');
}

describe('buildMime', () => {
  it('round-trips Japanese subject, sender name, text and HTML through mailparser', async () => {
    const m = mail();
    const parsed = await simpleParser(buildMime(m));
    expect(parsed.subject).toBe(m.subject);
    expect(parsed.from?.value).toEqual([{ name: '株式会社アクメ カスタマーサクセス', address: 'cs@acme.example' }]);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]?.address : undefined).toBe(
      'ichiro.sato@customer.example',
    );
    expect(parsed.messageId).toBe(m.messageIdHeader);
    expect(parsed.date?.toISOString()).toBe('2026-11-18T02:00:00.000Z');
    expect(parsed.html).toBe(m.html);
    expect(parsed.text).toBe(m.text);
  });

  it('carries List-Unsubscribe (HTTPS and mailto) and, for advertising mail only, List-Unsubscribe-Post', async () => {
    const raw = buildMime(mail()).toString('latin1');
    const unfolded = unfoldHead(raw);
    expect(unfolded).toContain(
      `\r\nList-Unsubscribe: <https://tend.example/u/token-${ID}>, <mailto:unsubscribe@acme.example?subject=unsubscribe-${ID}>\r\n`,
    );
    expect(unfolded).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    // mailparser files both under `list`.
    const list = (await simpleParser(raw)).headers.get('list') as Record<string, unknown>;
    expect(list['unsubscribe-post']).toEqual({ name: 'List-Unsubscribe=One-Click' });

    const operational = unfoldHead(
      buildMime(mail({ oneClick: false, unsubscribeMailto: undefined })).toString('latin1'),
    );
    expect(operational).not.toContain('List-Unsubscribe-Post');
    expect(operational).toContain(`List-Unsubscribe: <https://tend.example/u/token-${ID}>\r\n`);
  });

  it('keeps every line within RFC limits and uses CRLF only', () => {
    const raw = buildMime(mail()).toString('latin1');
    expect(raw).not.toMatch(/[^\r]\n/);
    const [head = '', ...body] = raw.split('\r\n\r\n');
    // Header fields (with their folded lines) stay within 78 characters a line; the
    // unsubscribe URLs cannot be broken, so that field is held to the hard 998 limit.
    for (const field of head.split(/\r\n(?![ \t])/)) {
      const limit = field.startsWith('List-Unsubscribe:') ? 998 : 78;
      for (const line of field.split('\r\n')) expect(line.length).toBeLessThanOrEqual(limit);
    }
    expect(head).toMatch(/^Subject: =\?UTF-8\?B\?/m);
    for (const line of body.join('\r\n').split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    // 7-bit only: everything non-ASCII is encoded.
    expect([...raw].every((ch) => ch.charCodeAt(0) < 0x80)).toBe(true);
  });

  it('is deterministic for the same mail (a retry builds the same bytes)', () => {
    expect(buildMime(mail()).equals(buildMime(mail()))).toBe(true);
  });

  it('strips CR and LF from the subject so no header can be injected', async () => {
    const parsed = await simpleParser(buildMime(mail({ subject: 'Hello\r\nBcc: victim@example.com' })));
    expect(parsed.subject).toBe('Hello Bcc: victim@example.com');
    expect(parsed.bcc).toBeUndefined();
  });
});

describe('formatAddress', () => {
  it('quotes ASCII names, encodes others and puts IDN domains in ASCII form', () => {
    expect(formatAddress('Acme CS <cs@acme.example>')).toBe('"Acme CS" <cs@acme.example>');
    expect(formatAddress('cs@acme.example')).toBe('cs@acme.example');
    expect(formatAddress('"Doe, Jane" <jane@example.com>')).toBe('"Doe, Jane" <jane@example.com>');
    expect(formatAddress('user@例え.jp')).toBe('user@xn--r8jz45g.jp');
    expect(formatAddress('アクメ <cs@acme.example>')).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= <cs@acme\.example>$/);
  });
});
