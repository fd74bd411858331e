import { randomUUID } from 'node:crypto';
import { TrackingRecorder } from '../src/tracking/tracking-recorder.service';
import { TrackingRetentionService } from '../src/tracking/tracking-retention.service';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
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
    t = await createTestApp({ SITE_ORIGINS: SITE, TRACKING_RECORD_LIMIT_PER_MINUTE: '20' });
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

    it('flags privacy-proxy and prefetch opens as machine opens, never drops them', async () => {
      const token = signer.sign({ k: 'o', m: messageId });
      await get(`/t/o/${token}.gif`, {
        'user-agent': 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
      });
      await get(`/t/o/${token}.gif`, { 'user-agent': 'Mozilla/5.0', 'x-forwarded-for': '17.58.10.4' });
      const opens = await events('email.opened');
      expect(opens.slice(-2).map((o) => o.props.classification)).toEqual(['machine', 'machine']);
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

    it('serves disclosure text in Japanese and English', async () => {
      const ja = await t.app.inject({ method: 'GET', url: '/t/disclosure?lang=ja' });
      expect(ja.body).toContain('利用者情報の外部送信について');
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
