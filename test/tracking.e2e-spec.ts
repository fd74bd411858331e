import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TrackingRecorder } from '../src/tracking/tracking-recorder.service';
import { TrackingRetentionService } from '../src/tracking/tracking-retention.service';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
import { TrackingRepository } from '../src/tracking/tracking.repository';
import { seedContact, seedMessage, type SeededContact } from './support/seed';
import { createTestApp, TEST_TRACKING_SECRET, type TestApp } from './support/test-app';

const SITE = 'https://www.acme.example';
const HUMAN_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

interface EventRow {
  type: string;
  contact_id: string | null;
  visitor_id: string | null;
  props: Record<string, unknown>;
}

describe('tracking endpoints', () => {
  let t: TestApp;
  let signer: TrackingTokenSigner;
  let recorder: TrackingRecorder;
  let x: SeededContact;
  let y: SeededContact;
  let messageId: string;

  const events = async (type: string): Promise<EventRow[]> => {
    await recorder.flush();
    return t.db.dataSource.query(
      `SELECT type, contact_id, visitor_id, props FROM events WHERE type = $1 ORDER BY occurred_at, id`,
      [type],
    );
  };
  // Each request happens a minute after the previous one, as real traffic would.
  const get = (url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => {
    tick();
    return t.app.inject({
      method,
      url,
      headers: { 'user-agent': HUMAN_UA, 'x-forwarded-for': '203.0.113.77', ...headers },
    });
  };
  const post = (url: string, body: unknown, origin = SITE, headers: Record<string, string> = {}) => {
    tick();
    return t.app.inject({
      method: 'POST',
      url,
      headers: { origin, 'content-type': 'text/plain;charset=UTF-8', 'user-agent': HUMAN_UA, ...headers },
      payload: JSON.stringify(body),
    });
  };

  const tick = () => {
    t.clock.advance(60_000);
    return true;
  };

  beforeAll(async () => {
    // Requests come through a reverse proxy at 127.0.0.1 (inject's peer address), which sets X-Forwarded-For.
    t = await createTestApp({ SITE_ORIGINS: SITE, TRACKING_RECORD_LIMIT_PER_MINUTE: '20', TRUST_PROXY: '127.0.0.1' });
    signer = t.app.get(TrackingTokenSigner);
    recorder = t.app.get(TrackingRecorder);
    t.clock.set(new Date('2026-11-20T01:00:00Z'));
    x = await seedContact(t.db.dataSource, { account: 'acme', contact: 'x', email: 'x@acme.example' });
    y = await seedContact(t.db.dataSource, { account: 'acme', contact: 'y', email: 'y@acme.example' });
    messageId = await seedMessage(t.db.dataSource, x, {
      links: [`${SITE}/docs/getting-started?utm_source=tend&a=1`, 'https://partner.example/case-study'],
      sentAt: new Date('2026-11-20T00:00:00Z'),
    });
  });
  afterAll(async () => {
    await t.close();
  });

  describe('open pixel', () => {
    it('answers a 43-byte GIF with no-store and records a human open with a truncated IP', async () => {
      const token = signer.sign({ k: 'o', m: messageId });
      const response = await get(`/t/o/${token}.gif`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('image/gif');
      expect(response.headers['cache-control']).toContain('no-store');
      expect(response.rawPayload.length).toBe(43);
      const [open] = await events('email.opened');
      expect(open).toMatchObject({
        contact_id: x.contactId,
        props: { classification: 'human', ip: '203.0.113.0', messageId },
      });
      expect(JSON.stringify(open)).not.toContain('203.0.113.77');
    });

    it('stores the moment of the hit to the millisecond', async () => {
      const token = signer.sign({ k: 'o', m: messageId });
      t.clock.advance(891); // a time with milliseconds; rows travel as epoch milliseconds
      await get(`/t/o/${token}.gif`);
      const hitAt = t.clock.now();
      await recorder.flush();
      const [row] = await t.db.dataSource.query<{ at: string }[]>(
        `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at
           FROM events WHERE type = 'email.opened' ORDER BY occurred_at DESC LIMIT 1`,
      );
      expect(row?.at).toBe(hitAt.toISOString().replace('Z', '000'));
    });

    it('flags privacy-proxy and prefetch opens as machine opens, never drops them', async () => {
      const token = signer.sign({ k: 'o', m: messageId });
      await get(`/t/o/${token}.gif`, {
        'user-agent': 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
      });
      await get(`/t/o/${token}.gif`, { 'user-agent': 'Mozilla/5.0', 'x-forwarded-for': '17.58.10.4' });
      const opens = await events('email.opened');
      expect(opens.slice(-2).map((o) => o.props.classification)).toEqual(['machine', 'machine']);
    });

    it('takes the client address from X-Forwarded-For only as far as the trusted proxy vouches for it', async () => {
      const token = signer.sign({ k: 'o', m: messageId });
      // The client wrote an Apple address itself; the trusted proxy appended the address it really saw.
      await get(`/t/o/${token}.gif`, { 'x-forwarded-for': '17.58.10.4, 198.51.100.23' });
      const [open] = (await events('email.opened')).slice(-1);
      expect(open?.props).toMatchObject({ classification: 'human', ip: '198.51.100.0' });
    });

    it('answers the GIF to tampered, foreign and garbage tokens and records nothing', async () => {
      const before = (await events('email.opened')).length;
      const token = signer.sign({ k: 'o', m: messageId });
      const tampered = token.slice(0, -2) + (token.endsWith('A') ? 'BA' : 'AA');
      const foreign = new TrackingTokenSigner({
        keys: [{ kid: 'k1', secret: 'z'.repeat(40), retiredAt: null }],
        gracePeriodMs: 0,
      }).sign({
        k: 'o',
        m: messageId,
      });
      for (const bad of [tampered, foreign, 'nonsense', signer.sign({ k: 'c', m: messageId, l: 0 })]) {
        const response = await get(`/t/o/${bad}.gif`);
        expect(response.statusCode).toBe(200);
        expect(response.rawPayload.length).toBe(43);
      }
      expect((await events('email.opened')).length).toBe(before);
    });

    it('serves 1,000 hits on one token and records only the per-minute limit', async () => {
      const other = await seedMessage(t.db.dataSource, x, { links: [], sentAt: new Date('2026-11-19T00:00:00Z') });
      const token = signer.sign({ k: 'o', m: other });
      for (let i = 0; i < 1000; i += 1) {
        t.clock.advance(50); // 1,000 hits within 50 seconds
        const response = await t.app.inject({
          method: 'GET',
          url: `/t/o/${token}.gif`,
          headers: { 'user-agent': HUMAN_UA },
        });
        expect(response.statusCode).toBe(200);
      }
      const recorded = (await events('email.opened')).filter((e) => e.props.messageId === other);
      expect(recorded).toHaveLength(20);
      expect(recorder.stats().throttled).toBeGreaterThanOrEqual(980);
    });
  });

  describe('click redirect', () => {
    it('redirects to the stored link only, ignoring any url in the query', async () => {
      const token = signer.sign({ k: 'c', m: messageId, l: 1 });
      const response = await get(`/t/c/${token}?url=https://evil.example&u=https%3A%2F%2Fevil.example`);
      expect(response.statusCode).toBe(302);
      expect(response.headers.location).toBe('https://partner.example/case-study');
      const [click] = await events('email.clicked');
      expect(click).toMatchObject({ contact_id: x.contactId, props: { classification: 'human', linkIndex: 1 } });
    });

    it('appends a short-lived signed identity on links into the customer site', async () => {
      const token = signer.sign({ k: 'c', m: messageId, l: 0 });
      const response = await get(`/t/c/${token}`);
      const location = new URL(String(response.headers.location));
      expect(location.origin + location.pathname).toBe(`${SITE}/docs/getting-started`);
      expect(location.searchParams.get('a')).toBe('1');
      const identity = signer.verifyKind(location.searchParams.get('tend_id'), 'i', t.clock.now());
      expect(identity).toMatchObject({ c: x.contactId });
      expect(String(response.headers.location)).not.toContain('x@acme.example');
    });

    it('classifies HEAD requests and scanners as bots and gives them no identity', async () => {
      const token = signer.sign({ k: 'c', m: messageId, l: 0 });
      const head = await get(`/t/c/${token}`, {}, 'HEAD');
      expect(head.statusCode).toBe(302);
      const scanner = await get(`/t/c/${token}`, { 'user-agent': 'Barracuda Sentinel (EE)' });
      expect(String(scanner.headers.location)).not.toContain('tend_id');
      const clicks = await events('email.clicked');
      expect(clicks.slice(-2).map((c) => c.props.classification)).toEqual(['bot', 'bot']);
    });

    it('answers a neutral 503 page, leaking nothing and recording nothing, when the link cannot be looked up', async () => {
      const other = await seedMessage(t.db.dataSource, x, {
        links: ['https://partner.example/pricing'],
        sentAt: new Date('2026-11-19T00:00:00Z'),
      });
      const token = signer.sign({ k: 'c', m: other, l: 0 });
      const before = (await events('email.clicked')).length;
      const findLink = jest
        .spyOn(TrackingRepository.prototype, 'findLink')
        .mockRejectedValueOnce(new Error('connect ECONNREFUSED 10.9.8.7:5432 (password=hunter2)'));
      try {
        const response = await get(`/t/c/${token}`);
        expect(response.statusCode).toBe(503);
        expect(response.headers.location).toBeUndefined();
        expect(response.headers['cache-control']).toBe('no-store');
        expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(response.body).toContain('This link is temporarily unavailable');
        expect(response.body).not.toMatch(/ECONNREFUSED|10\.9\.8\.7|hunter2|Error/);
        expect((await events('email.clicked')).length).toBe(before);
        // The failure is not remembered: once the database answers, the link works.
        const retry = await get(`/t/c/${token}`);
        expect(retry.statusCode).toBe(302);
        expect(retry.headers.location).toBe('https://partner.example/pricing');
        expect(findLink).toHaveBeenCalledTimes(2);
      } finally {
        findLink.mockRestore();
      }
    });

    it('percent-encodes a stored URL with non-ASCII characters in the Location header', async () => {
      const other = await seedMessage(t.db.dataSource, x, {
        links: ['https://partner.example/資料/入門?q=日本'],
        sentAt: new Date('2026-11-19T00:00:00Z'),
      });
      const response = await get(`/t/c/${signer.sign({ k: 'c', m: other, l: 0 })}`);
      expect(response.statusCode).toBe(302);
      expect(response.headers.location).toBe(
        'https://partner.example/%E8%B3%87%E6%96%99/%E5%85%A5%E9%96%80?q=%E6%97%A5%E6%9C%AC',
      );
    });

    it('shows a neutral page for bad tokens, unknown links and retired keys past their grace, recording nothing', async () => {
      const before = (await events('email.clicked')).length;
      const unknownLink = signer.sign({ k: 'c', m: messageId, l: 9 });
      const retired = new TrackingTokenSigner({
        keys: [{ kid: 'k1', secret: TEST_TRACKING_SECRET.slice(3), retiredAt: null }],
        gracePeriodMs: 0,
      }).sign({ k: 'c', m: messageId, l: 0 });
      const rotated = await createTestApp({
        SITE_ORIGINS: SITE,
        TRACKING_SECRET: `k2:${'n'.repeat(40)},${TEST_TRACKING_SECRET}@2026-09-01T00:00:00Z`,
        TRACKING_KEY_GRACE_PERIOD: '30d',
      });
      try {
        rotated.clock.set(t.clock.now());
        const response = await rotated.app.inject({
          method: 'GET',
          url: `/t/c/${retired}`,
          headers: { 'user-agent': HUMAN_UA },
        });
        expect(response.statusCode).toBe(404);
      } finally {
        await rotated.close();
      }
      for (const bad of [unknownLink, 'garbage', signer.sign({ k: 'o', m: messageId })]) {
        const response = await get(`/t/c/${bad}`);
        expect(response.statusCode).toBe(404);
        expect(response.headers.location).toBeUndefined();
        expect(response.body).toContain('This link is not available');
      }
      expect((await events('email.clicked')).length).toBe(before);
    });
  });

  describe('site snippet endpoints and identity', () => {
    const visitor = randomUUID();
    const pageView = (path: string) => ({
      v: visitor,
      e: [{ id: randomUUID(), type: 'page_view', url: `${SITE}${path}`, title: path }],
    });

    it('serves the snippet as JavaScript', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/t/s.js' });
      expect(response.headers['content-type']).toContain('application/javascript');
      expect(response.body).toContain('tend_vid');
    });

    it('accepts page views only from configured sites, with CORS for them alone', async () => {
      expect((await post('/t/collect', pageView('/pricing'))).statusCode).toBe(204);
      const preflight = await t.app.inject({ method: 'OPTIONS', url: '/t/collect', headers: { origin: SITE } });
      expect(preflight.headers['access-control-allow-origin']).toBe(SITE);
      expect((await post('/t/collect', pageView('/x'), 'https://evil.example')).statusCode).toBe(403);
      const offSite = await post('/t/collect', {
        v: visitor,
        e: [{ id: randomUUID(), type: 'page_view', url: 'https://evil.example/' }],
      });
      expect(offSite.statusCode).toBe(400);
      expect(offSite.json()).toMatchObject({ issues: [{ path: 'e.0.url' }] });
      const views = await events('site.page_viewed');
      expect(views).toHaveLength(1);
      expect(views[0]).toMatchObject({ visitor_id: visitor, contact_id: null, props: { path: '/pricing' } });
    });

    it('honours Do Not Track and Global Privacy Control', async () => {
      expect((await post('/t/collect', pageView('/dnt'), SITE, { dnt: '1' })).statusCode).toBe(204);
      expect((await post('/t/collect', pageView('/gpc'), SITE, { 'sec-gpc': '1' })).statusCode).toBe(204);
      expect((await events('site.page_viewed')).map((e) => e.props.path)).not.toContain('/dnt');
      expect((await events('site.page_viewed')).map((e) => e.props.path)).not.toContain('/gpc');
    });

    it('links the visitor on a verified identify and attributes its earlier visits to the contact', async () => {
      await post('/t/collect', pageView('/case-studies/acme'));
      await post('/t/collect', {
        v: visitor,
        e: [
          { id: randomUUID(), type: 'webinar_signup', url: `${SITE}/webinars/1`, props: { webinar: 'onboarding-101' } },
        ],
      });
      await recorder.flush();
      const token = signer.signIdentity(x.contactId, t.clock.now());
      expect((await post('/t/identify', { v: visitor, t: token })).statusCode).toBe(204);
      const links = (await t.api('GET', '/api/contacts/x/visitors')).json() as {
        items: { visitorId: string; linkStatus: string }[];
      };
      expect(links.items).toEqual([expect.objectContaining({ visitorId: visitor, linkStatus: 'verified' })]);
      const timeline = (
        await t.api('GET', '/api/contacts/x/timeline?types=site.page_viewed,site.webinar_signup&order=asc')
      ).json() as {
        items: { type: string; contactExternalId: string; props: { path: string } }[];
      };
      expect(timeline.items.map((i) => [i.type, i.props.path, i.contactExternalId])).toEqual([
        ['site.page_viewed', '/pricing', 'x'],
        ['site.page_viewed', '/case-studies/acme', 'x'],
        ['site.webinar_signup', '/webinars/1', 'x'],
      ]);
    });

    it('records a conflict when another contact identifies in the same browser, keeping the link', async () => {
      expect((await post('/t/identify', { v: visitor, email: 'Y@acme.example' })).statusCode).toBe(204);
      expect(
        (await post('/t/identify', { v: visitor, t: signer.signIdentity(y.contactId, t.clock.now()) })).statusCode,
      ).toBe(204);
      const links = (await t.api('GET', '/api/contacts/x/visitors')).json() as { items: { linkStatus: string }[] };
      expect(links.items).toEqual([expect.objectContaining({ linkStatus: 'verified' })]);
      const conflicts = (await t.api('GET', '/api/identity-conflicts')).json() as {
        items: { method: string; linkedContactExternalId: string; attemptedContactExternalId: string }[];
      };
      expect(conflicts.items.map((c) => [c.method, c.linkedContactExternalId, c.attemptedContactExternalId])).toEqual([
        ['verified', 'x', 'y'],
        ['unverified', 'x', 'y'],
      ]);
    });

    it('lets a form identify link an unknown browser as unverified, which a verified identify then upgrades', async () => {
      const other = randomUUID();
      await post('/t/identify', { v: other, email: 'y@acme.example' });
      await post('/t/identify', { v: other, email: 'nobody@acme.example' });
      let links = (await t.api('GET', '/api/contacts/y/visitors')).json() as {
        items: { visitorId: string; linkStatus: string }[];
      };
      expect(links.items).toEqual([expect.objectContaining({ visitorId: other, linkStatus: 'unverified' })]);
      await post('/t/identify', { v: other, t: signer.signIdentity(y.contactId, t.clock.now()) });
      links = (await t.api('GET', '/api/contacts/y/visitors')).json() as {
        items: { visitorId: string; linkStatus: string }[];
      };
      expect(links.items).toEqual([expect.objectContaining({ visitorId: other, linkStatus: 'verified' })]);
      expect((await t.api('DELETE', `/api/visitors/${other}/link`)).status).toBe(204);
      expect((await t.api('DELETE', `/api/visitors/${other}/link`)).status).toBe(404);
      expect(((await t.api('GET', '/api/contacts/y/visitors')).json() as { items: unknown[] }).items).toEqual([]);
    });

    it('ignores expired or forged identity tokens', async () => {
      const fresh = randomUUID();
      const expired = signer.signIdentity(x.contactId, new Date(t.clock.now().getTime() - 3_600_000));
      await post('/t/identify', { v: fresh, t: expired });
      await post('/t/identify', { v: fresh, t: 'A'.repeat(55) });
      const [row] = await t.db.dataSource.query<{ contact_id: string | null }[]>(
        'SELECT contact_id FROM visitors WHERE id = $1',
        [fresh],
      );
      expect(row?.contact_id ?? null).toBeNull();
    });

    it('keeps writing when a page sends a NUL character, which PostgreSQL refuses in JSON', async () => {
      const nul = { ...pageView('/nul'), e: [{ ...pageView('/nul').e[0]!, title: 'a\u0000b' }] };
      expect((await post('/t/collect', nul)).statusCode).toBe(204);
      expect((await post('/t/collect', pageView('/after-nul'))).statusCode).toBe(204);
      const views = await events('site.page_viewed');
      expect(views.find((v) => v.props.path === '/nul')?.props.title).toBe('ab');
      expect(views.map((v) => v.props.path)).toContain('/after-nul');
      expect(recorder.stats()).toMatchObject({ buffered: 0, failedFlushes: 0 });
    });

    it('keeps writing when a page sends half an emoji (an unpaired surrogate), which PostgreSQL refuses in JSON', async () => {
      const page = pageView('/half-emoji').e[0]!;
      const broken = { v: visitor, e: [{ ...page, title: 'Pricing \ud83d', props: { plan: '\udc4d pro' } }] };
      expect((await post('/t/collect', broken)).statusCode).toBe(204);
      expect((await post('/t/collect', pageView('/after-half-emoji'))).statusCode).toBe(204);
      const views = await events('site.page_viewed');
      const stored = views.find((v) => v.props.path === '/half-emoji');
      expect(stored?.props).toMatchObject({ title: 'Pricing \ufffd', props: { plan: '\ufffd pro' } });
      expect(views.map((v) => v.props.path)).toContain('/after-half-emoji');
      expect(recorder.stats()).toMatchObject({ buffered: 0, failedFlushes: 0 });
    });

    it('drops a hit the database refuses for good and writes the rest of its batch', async () => {
      const before = recorder.stats();
      const at = t.clock.now();
      const hit = (type: string, path: string) => ({
        kind: 'site' as const,
        key: `${visitor}:${randomUUID()}`,
        at,
        visitorId: visitor,
        type,
        rawIp: '203.0.113.9',
        userAgent: HUMAN_UA,
        props: { url: `${SITE}${path}`, path },
      });
      // Only code can make such a hit (the endpoints validate the type): ck_events_type refuses it.
      recorder.record(hit('site.page_viewed', '/refused-before'), visitor);
      recorder.record(hit('site.Not A Type', '/refused'), visitor);
      recorder.record(hit('site.page_viewed', '/refused-after'), visitor);
      const paths = (await events('site.page_viewed')).map((v) => v.props.path);
      expect(paths).toEqual(expect.arrayContaining(['/refused-before', '/refused-after']));
      expect(recorder.stats()).toMatchObject({ buffered: 0, failedFlushes: before.failedFlushes, refused: 1 });
    });

    it('stores page addresses without fragment, credentials or the identity parameter', async () => {
      const secretPage = {
        v: visitor,
        e: [
          {
            id: randomUUID(),
            type: 'page_view',
            url: `${SITE.replace('https://', 'https://user:pw@')}/callback?tend_id=abc&step=2#access_token=eyJsecret`,
            referrer: `${SITE}/login?next=%2Fapp#id_token=eyJother`,
          },
        ],
      };
      expect((await post('/t/collect', secretPage)).statusCode).toBe(204);
      const stored = (await events('site.page_viewed')).find((v) => v.props.path === '/callback');
      expect(stored?.props).toMatchObject({ url: `${SITE}/callback?step=2`, referrer: `${SITE}/login?next=%2Fapp` });
      expect(JSON.stringify(stored)).not.toMatch(/eyJ|user:pw|tend_id/);
    });

    it('records none of a beacon whose pages are not all on a configured site', async () => {
      const before = (await events('site.page_viewed')).length;
      const mixed = {
        v: visitor,
        e: [
          { id: randomUUID(), type: 'page_view', url: `${SITE}/fine` },
          { id: randomUUID(), type: 'page_view', url: 'https://evil.example/x' },
        ],
      };
      const response = await post('/t/collect', mixed);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ issues: [{ path: 'e.1.url' }] });
      expect(await events('site.page_viewed')).toHaveLength(before);
    });

    it('serves disclosure text in Japanese and English', async () => {
      const ja = await t.app.inject({ method: 'GET', url: '/t/disclosure?lang=ja' });
      expect(ja.body).toContain('利用者情報の外部送信について');
      // TRACKING_HONOR_DNT defaults to true here: the notice says so.
      expect(ja.body).toContain('Global Privacy Control');
      const en = (await t.app.inject({ method: 'GET', url: '/t/disclosure?lang=en&format=json' })).json<{
        title: string;
      }>();
      expect(en.title).toBe('Information sent from this site');
    });
  });

  it('deletes tracking rows past retention, and only those', async () => {
    const apiEvents = (
      await t.db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM events WHERE source <> 'tracking'`)
    )[0]!.n;
    const retention = new TrackingRetentionService(t.app.get(TrackingRecorder)['repository'], t.clock, t.config);
    t.clock.set(new Date('2028-01-01T00:00:00Z'));
    expect(await retention.sweep()).toBeGreaterThan(0);
    const left = await t.db.dataSource.query<{ source: string; n: number }[]>(
      `SELECT source, count(*)::int AS n FROM events GROUP BY source`,
    );
    expect(left.filter((r) => r.source === 'tracking')).toEqual([]);
    expect(left.reduce((sum, r) => sum + r.n, 0)).toBe(apiEvents);
  });
});

describe('tracking buffer across shutdown', () => {
  it('writes every buffered hit when the app closes', async () => {
    const t = await createTestApp({ TRACKING_FLUSH_INTERVAL: '1h' });
    try {
      const x = await seedContact(t.db.dataSource, { account: 'a', contact: 'c', email: 'c@a.example' });
      const signer = t.app.get(TrackingTokenSigner);
      const ids: string[] = [];
      for (let i = 0; i < 50; i += 1)
        ids.push(await seedMessage(t.db.dataSource, x, { links: [], sentAt: new Date('2026-10-01T00:00:00Z') }));
      for (const id of ids) await t.app.inject({ method: 'GET', url: `/t/o/${signer.sign({ k: 'o', m: id })}.gif` });
      const [before] = await t.db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM events WHERE type = 'email.opened'`,
      );
      expect(before!.n).toBe(0);
      await t.app.close();
      const [after] = await t.db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM events WHERE type = 'email.opened'`,
      );
      expect(after!.n).toBe(50);
    } finally {
      await t.db.close();
    }
  });
});

describe('site events per client address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ SITE_ORIGINS: SITE, TRACKING_SITE_LIMIT_PER_CLIENT_MINUTE: '3' });
    t.clock.set(new Date('2026-11-20T01:00:00Z'));
  });
  afterAll(async () => {
    await t.close();
  });

  it('records at most the limit a minute from one address, however many visitor ids it makes up', async () => {
    const beacon = (remoteAddress: string, path: string) =>
      t.app.inject({
        method: 'POST',
        url: '/t/collect',
        remoteAddress,
        headers: { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' },
        payload: JSON.stringify({
          v: randomUUID(),
          e: [{ id: randomUUID(), type: 'page_view', url: `${SITE}${path}` }],
        }),
      });
    for (let i = 0; i < 6; i++) expect((await beacon('198.51.100.1', `/flood-${i}`)).statusCode).toBe(204);
    expect((await beacon('198.51.100.2', '/other-client')).statusCode).toBe(204);
    t.clock.advance(60_000);
    expect((await beacon('198.51.100.1', '/next-minute')).statusCode).toBe(204);
    const recorder = t.app.get(TrackingRecorder);
    await recorder.flush();
    const paths = (
      await t.db.dataSource.query<{ path: string }[]>(
        `SELECT props->>'path' AS path FROM events WHERE type = 'site.page_viewed'`,
      )
    ).map((r) => r.path);
    expect(paths.sort()).toEqual(['/flood-0', '/flood-1', '/flood-2', '/next-minute', '/other-client']);
    expect(recorder.stats().throttled).toBe(3);
  });
});

describe('client address and disclosure with the default settings', () => {
  let t: TestApp;
  let signer: TrackingTokenSigner;
  let messageId: string;

  beforeAll(async () => {
    t = await createTestApp({ TRACKING_HONOR_DNT: 'false' });
    signer = t.app.get(TrackingTokenSigner);
    t.clock.set(new Date('2026-11-20T01:00:00Z'));
    const x = await seedContact(t.db.dataSource, { account: 'acme', contact: 'x', email: 'x@acme.example' });
    messageId = await seedMessage(t.db.dataSource, x, { links: [], sentAt: new Date('2026-11-20T00:00:00Z') });
  });
  afterAll(async () => {
    await t.close();
  });

  it('ignores a spoofed X-Forwarded-For: the socket address is stored and the Apple rule does not fire', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: `/t/o/${signer.sign({ k: 'o', m: messageId })}.gif`,
      remoteAddress: '198.51.100.23',
      headers: { 'user-agent': HUMAN_UA, 'x-forwarded-for': '17.58.10.4' },
    });
    expect(response.statusCode).toBe(200);
    await t.app.get(TrackingRecorder).flush();
    const rows = await t.db.dataSource.query<EventRow[]>(
      `SELECT type, contact_id, visitor_id, props FROM events WHERE type = 'email.opened'`,
    );
    expect(rows.map((r) => r.props)).toEqual([
      expect.objectContaining({ classification: 'human', ip: '198.51.100.0' }),
    ]);
  });

  it('says nothing of Do Not Track or GPC when TRACKING_HONOR_DNT=false, in either language', async () => {
    for (const lang of ['ja', 'en']) {
      const response = await t.app.inject({ method: 'GET', url: `/t/disclosure?lang=${lang}` });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('window.tend.optOut()');
      expect(response.body).not.toContain('Do Not Track');
      expect(response.body).not.toContain('Global Privacy Control');
    }
  });
});

describe('pixel and redirect on a real socket (the front door before Fastify)', () => {
  let t: TestApp;
  let signer: TrackingTokenSigner;
  let base: string;
  let messageId: string;

  beforeAll(async () => {
    t = await createTestApp({ TRACKING_FLUSH_INTERVAL: '1h' });
    signer = t.app.get(TrackingTokenSigner);
    t.clock.set(new Date('2026-11-20T01:00:00Z'));
    const x = await seedContact(t.db.dataSource, { account: 'acme', contact: 'x', email: 'x@acme.example' });
    messageId = await seedMessage(t.db.dataSource, x, {
      links: ['https://partner.example/case-study'],
      sentAt: new Date('2026-11-20T00:00:00Z'),
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.getHttpServer().address() as AddressInfo;
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await t.close();
  });

  const both = async (method: 'GET' | 'HEAD', path: string, headers: Record<string, string> = {}) => {
    const viaSocket = await fetch(`${base}${path}`, { method, headers, redirect: 'manual' });
    const viaInject = await t.app.inject({ method, url: path, headers });
    return { viaSocket, viaSocketBody: Buffer.from(await viaSocket.arrayBuffer()), viaInject };
  };
  const HEADERS = ['content-type', 'content-length', 'cache-control', 'pragma', 'location', 'referrer-policy'];
  const expectSameAnswer = ({ viaSocket, viaSocketBody, viaInject }: Awaited<ReturnType<typeof both>>) => {
    expect(viaSocket.status).toBe(viaInject.statusCode);
    for (const name of HEADERS)
      expect([name, viaSocket.headers.get(name)]).toEqual([name, viaInject.headers[name]?.toString() ?? null]);
    expect(viaSocketBody.equals(viaInject.rawPayload)).toBe(true);
  };

  it('answers exactly as the Fastify routes do, and records the same', async () => {
    const open = signer.sign({ k: 'o', m: messageId });
    const click = signer.sign({ k: 'c', m: messageId, l: 0 });
    const ua = { 'user-agent': HUMAN_UA, 'x-forwarded-for': '17.58.10.4' };
    for (const [method, path] of [
      ['GET', `/t/o/${open}.gif`],
      ['HEAD', `/t/o/${open}.gif`],
      ['GET', `/t/o/${open}.gif?utm=x`],
      ['GET', '/t/o/nonsense.gif'],
      ['GET', `/t/c/${click}`],
      ['HEAD', `/t/c/${click}`],
      ['GET', '/t/c/nonsense'],
      // Left to Fastify by the front door: percent-encoding (every token starts with `A`, the version byte).
      ['GET', `/t/o/%41${open.slice(1)}.gif`],
    ] as const) {
      expectSameAnswer(await both(method, path, ua));
    }
    const recorder = t.app.get(TrackingRecorder);
    await recorder.flush();
    const rows = await t.db.dataSource.query<{ type: string; n: number; ips: string[] }[]>(
      `SELECT type, count(*)::int AS n, array_agg(DISTINCT props->>'ip') AS ips FROM events GROUP BY type ORDER BY type`,
    );
    // Opens: GET, HEAD, GET with a query and the percent-encoded token, each both ways; clicks: GET and HEAD, both ways.
    expect(rows).toEqual([
      { type: 'email.clicked', n: 4, ips: ['127.0.0.0'] },
      { type: 'email.opened', n: 8, ips: ['127.0.0.0'] },
    ]);
  });
});
