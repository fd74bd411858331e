import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../common/clock';
import { TrackingTokenSigner } from '../../tracking/tracking-token.signer';
import type { RenderRequest } from '../messaging.contracts';
import { compileMjml } from './mjml-compiler';
import { TemplateRenderer, type TemplateRendererConfig } from './template-renderer';

const BASE = 'https://t.example.com';
const MESSAGE_ID = '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';
const NOW = new Date('2026-11-01T00:00:00Z'); // 09:00 in Tokyo, 20:00 on Oct 31 in New York
const config: TemplateRendererConfig = {
  http: { publicBaseUrl: BASE },
  mail: {
    sender: { name: '株式会社テンド', postalAddress: '東京都千代田区丸の内1-1-1', contact: 'support@tend.example' },
  },
  defaults: { locale: 'ja', timeZone: 'Asia/Tokyo' },
};
const signer = new TrackingTokenSigner({
  keys: [{ kid: 'k1', secret: 'unit-test-secret-0123456789', retiredAt: null }],
  gracePeriodMs: 0,
});

function request(overrides: Partial<RenderRequest> = {}): RenderRequest {
  return {
    template: 'renewal/renewal-notice',
    locale: 'ja',
    messageId: MESSAGE_ID,
    recipient: {
      contactId: '11111111-1111-4111-8111-111111111111',
      externalId: 'c-1',
      name: '佐藤 一郎',
      email: 'ichiro@example.jp',
      timeZone: 'Asia/Tokyo',
      roles: ['admin'],
      attributes: {},
    },
    account: {
      accountId: '22222222-2222-4222-8222-222222222222',
      externalId: 'a-1',
      name: '株式会社サンプル商事',
      plan: 'Business',
      renewalDate: '2026-12-01',
      attributes: {},
    },
    data: { activeUsers: 12345 },
    tracking: { opens: true, clicks: true },
    ...overrides,
  };
}

describe('TemplateRenderer', () => {
  let dir: string;
  let renderer: TemplateRenderer;
  const compile = jest.fn(compileMjml);

  beforeAll(() => {
    // The real templates plus fixtures: a ja-only template and one with tricky links.
    dir = mkdtempSync(join(tmpdir(), 'tend-templates-'));
    cpSync(join(process.cwd(), 'templates'), dir, { recursive: true });
    mkdirSync(join(dir, 'fixture/ja-only'), { recursive: true });
    writeFileSync(join(dir, 'fixture/ja-only/template.yaml'), 'kind: operational\nsubject:\n  ja: 日本語だけ\n');
    writeFileSync(
      join(dir, 'fixture/ja-only/ja.mjml'),
      '<mj-section><mj-column><mj-text>本文 {{formatDate data.at "yyyy/MM/dd HH:mm"}}</mj-text></mj-column></mj-section>',
    );
    mkdirSync(join(dir, 'fixture/links'), { recursive: true });
    writeFileSync(
      join(dir, 'fixture/links/template.yaml'),
      'kind: advertising\ntopic: product_tips\nsubject:\n  ja: リンク\n  en: Links\n',
    );
    const body = `<mj-section><mj-column><mj-text>
      <a href="https://a.example.com/x?a=1&b=2">one</a>
      <a href="mailto:help@example.com">mail</a> <a href="tel:+81312345678">tel</a> <a href="#top">top</a>
      <a href="{{data.url}}">two</a>
      <a href='HTTP://b.example.com/y'>three</a>
      <a data-tend-notrack href="https://c.example.com/">not tracked</a>
      {{formatDate data.at}} / {{formatDate data.at "datetime"}} / {{formatNumber data.n}} / {{formatNumber data.n 2}} / {{formatCurrency data.yen}} / {{formatCurrency data.usd "USD"}} / {{daysUntil account.renewalDate}}
    </mj-text></mj-column></mj-section><!-- partial:footer -->`;
    writeFileSync(join(dir, 'fixture/links/ja.mjml'), body);
    writeFileSync(join(dir, 'fixture/links/en.mjml'), body);
    renderer = new TemplateRenderer(config, signer, new ManualClock(NOW), { dir, compile });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads and compiles every template and locale once at start', async () => {
    await renderer.onModuleInit();
    expect(renderer.has('onboarding/welcome')).toBe(true);
    expect(renderer.has('nope/nothing')).toBe(false);
    // every starter template x 2 locales + ja-only + links x 2
    const starters = readdirSync(join(process.cwd(), 'templates'))
      .filter((group) => !group.startsWith('_'))
      .flatMap((group) => readdirSync(join(process.cwd(), 'templates', group)));
    const expected = starters.length * 2 + 1 + 2;
    expect(renderer.compileCount).toBe(expected);
    expect(compile).toHaveBeenCalledTimes(expected);
  });

  it('renders a Japanese subject, preheader, body and the legal footer', async () => {
    const m = await renderer.render(request());
    expect(m).toMatchObject({
      template: 'renewal/renewal-notice',
      locale: 'ja',
      kind: 'advertising',
      topic: 'renewal',
    });
    expect(m.subject).toBe('ご契約更新のご案内（2026年12月1日）');
    expect(m.preheader).toBe('更新日まであと30日です。');
    expect(m.html).toContain('佐藤 一郎 様');
    expect(m.html).toContain('<html lang="ja"');
    expect(m.html).toContain('12,345名の方に');
    for (const s of ['株式会社テンド', '東京都千代田区丸の内1-1-1', 'support@tend.example']) {
      expect(m.html).toContain(s);
      expect(m.text).toContain(s);
    }
    expect(m.text).toContain('佐藤 一郎 様');
    expect(m.text).not.toContain('更新日まであと30日です。'); // the hidden preheader is not in the text part
  });

  it('renders English and falls back to the default locale', async () => {
    const en = await renderer.render(request({ locale: 'en' }));
    expect(en.locale).toBe('en');
    expect(en.subject).toBe('Your 株式会社テンド renewal on December 1, 2026');
    const fallback = await renderer.render(request({ template: 'fixture/ja-only', locale: 'en' }));
    expect(fallback.locale).toBe('ja');
    expect(fallback.subject).toBe('日本語だけ');
    expect(fallback.kind).toBe('operational');
    expect(fallback.topic).toBeNull();
  });

  it('formats dates, numbers and currency in the recipient locale and time zone', async () => {
    const data = { at: '2026-11-01T00:30:00Z', n: 1234567.891, yen: 98000, usd: 1234.5, url: 'https://x.example.com' };
    const ja = await renderer.render(request({ template: 'fixture/links', data }));
    expect(ja.html).toContain('2026年11月1日 / 2026年11月1日 9:30');
    expect(ja.html).toContain('1,234,567.891 / 1,234,567.89 / ￥98,000 / $1,234.50 / 30');
    const ny = request({ template: 'fixture/links', locale: 'en', data });
    ny.recipient = { ...ny.recipient, timeZone: 'America/New_York' };
    const en = await renderer.render(ny);
    // 00:30 UTC on Nov 1 is Oct 31, 20:30 in New York; today there is Oct 31, so Dec 1 is 31 days away.
    expect(en.html).toContain('October 31, 2026 / Oct 31, 2026, 8:30');
    expect(en.html).toMatch(/1,234,567\.891 \/ 1,234,567\.89 \/ ¥98,000 \/ \$1,234\.50 \/ 31/);
    const tokyo = await renderer.render(request({ template: 'fixture/ja-only', data: { at: '2026-11-01T00:30:00Z' } }));
    expect(tokyo.html).toContain('本文 2026/11/01 09:30');
  });

  it('rewrites every http(s) link to a signed click URL whose index maps to the decoded original', async () => {
    const data = { url: 'https://d.example.com/p?x=1&y=<2>', at: null };
    const m = await renderer.render(request({ template: 'fixture/links', data }));
    expect(m.links).toEqual([
      'https://a.example.com/x?a=1&b=2',
      'https://d.example.com/p?x=1&y=<2>',
      'HTTP://b.example.com/y',
    ]);
    const clickUrls = [...m.html.matchAll(/href="(https:\/\/t\.example\.com\/t\/c\/[^"]+)"/g)].map((x) => x[1] ?? '');
    expect(clickUrls).toHaveLength(3);
    clickUrls.forEach((url, i) => {
      expect(signer.verifyKind(url.slice(`${BASE}/t/c/`.length), 'c', NOW)).toEqual({ k: 'c', m: MESSAGE_ID, l: i });
      expect(m.text).toContain(url);
    });
    expect(m.html).toContain('href="mailto:help@example.com"');
    expect(m.html).toContain('href="tel:+81312345678"');
    expect(m.html).toContain('href="#top"');
    expect(m.html).toContain('href="https://c.example.com/"');
    // Unsubscribe and preferences stay direct (and verify as unsubscribe tokens).
    const token = m.unsubscribeUrl.slice(`${BASE}/u/`.length);
    expect(signer.verifyKind(token, 'u', NOW)).toEqual({ k: 'u', m: MESSAGE_ID });
    expect(m.html).toContain(`href="${m.unsubscribeUrl}"`);
    expect(m.html).toContain(`href="${m.unsubscribeUrl}/preferences"`);
    expect(m.text).toContain(m.unsubscribeUrl);
    expect(m.links).not.toContain(m.unsubscribeUrl);
    // No original http URL is left in the text part except the direct ones.
    expect(m.text).not.toContain('a.example.com');
  });

  it('adds the open pixel only with tracking.opens and rewrites nothing without tracking.clicks', async () => {
    const tracked = await renderer.render(request());
    const pixel =
      /<img src="https:\/\/t\.example\.com\/t\/o\/([A-Za-z0-9_-]+)\.gif" width="1" height="1" alt=""[^>]*><\/body>/.exec(
        tracked.html,
      );
    expect(pixel).not.toBeNull();
    expect(signer.verifyKind(pixel?.[1], 'o', NOW)).toEqual({ k: 'o', m: MESSAGE_ID });
    expect(tracked.links).toEqual([
      'https://app.example.com/billing?utm_source=tend&utm_medium=email&utm_campaign=renewal',
    ]);

    const untracked = await renderer.render(request({ tracking: { opens: false, clicks: false } }));
    expect(untracked.html).not.toContain('/t/o/');
    expect(untracked.html).not.toContain('/t/c/');
    expect(untracked.links).toEqual([]);
    expect(untracked.html).toMatch(
      /href="https:\/\/app\.example\.com\/billing\?utm_source=tend&(amp;)?utm_medium=email/,
    );
    expect(untracked.text).toContain(
      'https://app.example.com/billing?utm_source=tend&utm_medium=email&utm_campaign=renewal',
    );
  });

  it('escapes recipient data in HTML and keeps subjects on one line', async () => {
    const r = request({ template: 'onboarding/welcome' });
    r.account = { ...r.account, name: '<script>x</script>\r\nBcc: evil' };
    const m = await renderer.render(r);
    expect(m.html).not.toContain('<script>x</script>');
    expect(m.html).toContain('&lt;script&gt;');
    expect(m.subject).not.toMatch(/[\r\n]/);
  });

  it('derives the text part from the template: personalised, unescaped, headings in their own case', async () => {
    const r = request({ template: 'onboarding/welcome', tracking: { opens: false, clicks: false } });
    r.recipient = { ...r.recipient, name: 'Tom & <Jerry>' };
    const m = await renderer.render(r);
    expect(m.html).toContain('Tom &amp; &lt;Jerry&gt;');
    expect(m.text).toContain('Tom & <Jerry>');
    expect(m.text).not.toContain('{{');
    expect(m.text).not.toMatch(/\n{3,}/);
    expect(m.text).toContain(m.unsubscribeUrl);
  });

  it('never recompiles MJML across 1,000 renders, and measures renders per second', async () => {
    const before = renderer.compileCount;
    const calls = compile.mock.calls.length;
    const n = 1000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await renderer.render(request({ template: 'onboarding/welcome', locale: i % 2 === 0 ? 'ja' : 'en' }));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(renderer.compileCount).toBe(before);
    expect(compile.mock.calls.length).toBe(calls);
    console.log(
      `template render (personalise + rewrite links + pixel + text part): ${Math.round(n / seconds)} renders/s`,
    );
  });

  it('renders a preview for a sample recipient', async () => {
    const m = await renderer.renderPreview('milestone/celebration', 'en');
    expect(m.subject).toContain('Example Inc.');
    expect(m.links).toEqual([]);
    expect(m.html).not.toContain('/t/o/');
  });
});
