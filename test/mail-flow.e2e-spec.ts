import { simpleParser, type ParsedMail } from 'mailparser';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server';
import { createTestApp, type TestApp } from './support/test-app';

/**
 * The whole application as it runs in production (ROLE=all, real templates from
 * ./templates, real recipient policy, the scheduled send worker, SMTP transport) sending
 * into a real SMTP server; every message is parsed back with mailparser.
 */
const WEDNESDAY_11_JST = new Date('2026-11-18T02:00:00Z');
const FRIDAY_23_JST = new Date('2026-11-20T14:00:00Z');
const MONDAY_09_JST = '2026-11-23T00:00:00.000Z';

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mail flow: API -> queue -> worker -> templates -> SMTP, end to end', () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  let seq = 0;

  const contact = async (fields: Record<string, unknown> = {}) => {
    seq += 1;
    const externalId = `flow-c-${seq}`;
    const account = await t.api('POST', '/api/accounts', { externalId: `flow-a-${seq}`, name: `株式会社フロー${seq}` });
    expect(account.status).toBe(201);
    const created = await t.api('POST', '/api/contacts', {
      externalId,
      accountExternalId: `flow-a-${seq}`,
      email: `flow${seq}@customer.example`,
      name: `山田 花子${seq}`,
      locale: 'ja',
      consent: { basis: 'existing_relationship' },
      ...fields,
    });
    expect(created.status).toBe(201);
    return { externalId, email: `flow${seq}@customer.example` };
  };
  const send = async (contactExternalId: string, template = 'onboarding/first-steps') => {
    const response = await t.api('POST', '/api/messages', {
      idempotencyKey: `flow-${++seq}`,
      contactExternalId,
      template,
    });
    expect(response.status).toBe(202);
    return (response.json() as { id: string }).id;
  };
  const status = async (id: string) =>
    (
      await t.db.dataSource.query<{ status: string; status_reason: string | null; due_at: Date }[]>(
        'SELECT status, status_reason, due_at FROM messages WHERE id = $1',
        [id],
      )
    )[0]!;
  const received = (to: string, count = 1): Promise<ParsedMail[]> =>
    waitFor(`${count} message(s) over SMTP`, async () => {
      const mine = smtp.received.filter((m) => m.to.includes(to));
      return mine.length >= count ? Promise.all(mine.map((m) => simpleParser(m.raw))) : undefined;
    });
  /** What a mail client sends for a one-click unsubscribe (RFC 8058). */
  const oneClick = (unsubscribeUrl: string) =>
    t.app.inject({
      method: 'POST',
      url: new URL(unsubscribeUrl).pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
  const anchors = (html: string) => [...html.matchAll(/<a\b[^>]*\shref="([^"]*)"/g)].map((m) => m[1]!);

  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({
      MAIL_TRANSPORT: 'smtp',
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Acme カスタマーサクセス <cs@acme.example>',
      PUBLIC_BASE_URL: 'https://tend.acme.example',
      SENDER_NAME: '株式会社アクメ',
      SENDER_POSTAL_ADDRESS: '東京都千代田区丸の内1-1-1',
      SENDER_CONTACT: 'support@acme.example',
      UNSUBSCRIBE_MAILTO: 'unsubscribe@acme.example',
    });
    t.clock.set(WEDNESDAY_11_JST);
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('delivers a Japanese advertising mail with every link signed, the pixel, the legal footer and unsubscribe headers', async () => {
    const c = await contact();
    const id = await send(c.externalId);
    const [mail] = await received(c.email);
    expect(mail!.subject).toBe('活用の第一歩：まず試していただきたい3つの機能');
    expect(mail!.from?.value[0]).toEqual({ name: 'Acme カスタマーサクセス', address: 'cs@acme.example' });
    expect(mail!.messageId).toBe(`<${id}@acme.example>`);
    const list = mail!.headers.get('list') as Record<string, { url?: string; name?: string }>;
    expect(list.unsubscribe?.url).toMatch(/^https:\/\/tend\.acme\.example\/u\/[A-Za-z0-9_.-]+$/);
    expect(list['unsubscribe-post']).toEqual({ name: 'List-Unsubscribe=One-Click' });

    const html = mail!.html as string;
    expect(html).toContain('山田 花子');
    for (const s of ['株式会社アクメ', '東京都千代田区丸の内1-1-1', 'support@acme.example']) expect(html).toContain(s);
    expect(html).toMatch(/<img src="https:\/\/tend\.acme\.example\/t\/o\/[A-Za-z0-9_.-]+\.gif"/);
    const hrefs = anchors(html).filter((h) => /^https?:/.test(h));
    const clicks = hrefs.filter((h) => h.startsWith('https://tend.acme.example/t/c/'));
    expect(clicks.length).toBeGreaterThanOrEqual(2);
    // Every other http(s) link is the unsubscribe or preferences page; nothing points off-site untracked.
    for (const h of hrefs.filter((x) => !clicks.includes(x))) expect(h).toMatch(/^https:\/\/tend\.acme\.example\/u\//);
    for (const h of clicks) expect(mail!.text).toContain(h);

    const links = await t.db.dataSource.query<{ link_index: number; url: string }[]>(
      'SELECT link_index, url FROM message_links WHERE message_id = $1 ORDER BY link_index',
      [id],
    );
    expect(links).toHaveLength(clicks.length);
    // The stored destination is the decoded original (Handlebars and MJML escape `&` and `=`).
    expect(links[0]!.url).toBe(
      'https://app.example.com/tour?utm_source=tend&utm_medium=email&utm_campaign=first-steps',
    );
    const redirect = await t.app.inject({ method: 'GET', url: new URL(clicks[0]!).pathname });
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe(links[0]!.url);
    // A destination smuggled into the query string is ignored: no open redirect.
    const smuggled = await t.app.inject({
      method: 'GET',
      url: `${new URL(clicks[0]!).pathname}?url=https://evil.example`,
    });
    expect(smuggled.headers.location).toBe(links[0]!.url);
    expect((await status(id)).status).toBe('sent');
  });

  it('follows the contact tracking consent: clicks only, or none at all', async () => {
    const clicksOnly = await contact({ emailTracking: 'clicks' });
    const none = await contact({ emailTracking: 'none' });
    await send(clicksOnly.externalId);
    await send(none.externalId);
    const [a] = await received(clicksOnly.email);
    const [b] = await received(none.email);
    expect(a!.html).not.toContain('/t/o/');
    expect(anchors(a!.html as string).some((h) => h.includes('/t/c/'))).toBe(true);
    expect(b!.html).not.toContain('/t/o/');
    expect(b!.html).not.toContain('/t/c/');
    expect(anchors(b!.html as string).map((h) => h.replace(/&amp;/g, '&'))).toContain(
      'https://app.example.com/tour?utm_source=tend&utm_medium=email&utm_campaign=first-steps',
    );
  });

  it('renders in the contact language: English subject and body for an English contact', async () => {
    const c = await contact({ locale: 'en', name: 'Alex Morgan' });
    await send(c.externalId);
    const [mail] = await received(c.email);
    expect(mail!.subject).toBe('3 things to try first in 株式会社アクメ');
    expect(mail!.text).toContain('Alex Morgan');
  });

  it('after a one-click unsubscribe, advertising mail is suppressed at send time and operational mail still goes', async () => {
    const c = await contact();
    await send(c.externalId);
    const [first] = await received(c.email);
    const unsubscribe = (first!.headers.get('list') as Record<string, { url: string }>).unsubscribe!.url;
    expect((await oneClick(unsubscribe)).statusCode).toBe(200);

    const advertising = await send(c.externalId);
    const operational = await send(c.externalId, 'system/test-message');
    const mails = await received(c.email, 2);
    expect(mails[1]!.subject).toBe('【テスト送信】株式会社アクメからのテストメール');
    expect(
      await waitFor('suppression', async () =>
        (await status(advertising)).status === 'suppressed' ? true : undefined,
      ),
    ).toBe(true);
    expect((await status(advertising)).status_reason).toMatch(/unsubscribed/);
    expect((await status(operational)).status).toBe('sent');
    expect(smtp.received.filter((m) => m.to.includes(c.email))).toHaveLength(2);
  });

  it('an unsubscribe suppresses the address the mail went to, also after the contact moved to another', async () => {
    const c = await contact();
    await send(c.externalId);
    const [mail] = await received(c.email);
    const unsubscribe = (mail!.headers.get('list') as Record<string, { url: string }>).unsubscribe!.url;
    // The contact's address changes after the mail went out; the old mailbox asks to unsubscribe.
    const moved = `moved-${c.email}`;
    expect((await t.api('PATCH', `/api/contacts/${c.externalId}`, { email: moved })).status).toBe(200);
    const page = await t.app.inject({ method: 'GET', url: new URL(unsubscribe).pathname });
    expect(page.body).toContain(`f***@customer.example`);
    expect((await oneClick(unsubscribe)).statusCode).toBe(200);
    const suppressed = await t.db.dataSource.query<{ email: string }[]>(
      'SELECT email FROM suppressions WHERE email = ANY($1::text[])',
      [[c.email, moved]],
    );
    expect(suppressed.map((r) => r.email)).toEqual([c.email]);
  });

  it('at 23:00 Friday in Tokyo holds advertising mail until 09:00 Monday and sends operational mail at once', async () => {
    t.clock.set(FRIDAY_23_JST);
    try {
      const c = await contact();
      const advertising = await send(c.externalId);
      const operational = await send(c.externalId, 'system/test-message');
      const [mail] = await received(c.email);
      expect(mail!.subject).toContain('テスト送信');
      const held = await waitFor('the deferral', async () => {
        const s = await status(advertising);
        return s.status_reason === 'quiet_hours' ? s : undefined;
      });
      expect(held.status).toBe('queued');
      expect(new Date(held.due_at).toISOString()).toBe(MONDAY_09_JST);
      expect((await status(operational)).status).toBe('sent');

      t.clock.set(new Date(MONDAY_09_JST));
      const both = await received(c.email, 2);
      expect(both[1]!.subject).toBe('活用の第一歩：まず試していただきたい3つの機能');
    } finally {
      t.clock.set(WEDNESDAY_11_JST);
    }
  });
});
