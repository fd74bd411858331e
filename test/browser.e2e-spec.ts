import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { TrackingRecorder } from '../src/tracking/tracking-recorder.service';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
import { DESKTOP_CHROME_UA, freeLocalPort, launchChromium, sleep, waitUntil } from './support/browser';
import { seedContact, seedMessage, type SeededContact } from './support/seed';
import { type SiteServer, startSiteServer } from './support/site-server';
import { createTestApp, TEST_API_KEY, type TestApp } from './support/test-app';

/*
 * The whole tech-touch loop in a real browser: a customer's site (a local HTTP
 * server) includes Tend's snippet, headless Chromium browses it anonymously, the
 * contact clicks a link in an email (Tend's real /t/c redirect), the snippet claims
 * the signed identity from the URL, and the earlier anonymous visits show up on the
 * contact's timeline. Tend listens on a real socket; nothing here is injected.
 */

interface SiteEventRow {
  type: string;
  contact_id: string | null;
  visitor_id: string;
  props: {
    url: string;
    path: string;
    title?: string;
    referrer?: string;
    props?: Record<string, unknown>;
    ip?: string;
    userAgent?: string;
  };
}
interface VisitorLink {
  visitorId: string;
  linkStatus: string | null;
  linkedAt: string | null;
}
interface TimelineItem {
  type: string;
  contactExternalId: string | null;
  visitorId: string | null;
  props: { url?: string; path?: string; props?: Record<string, unknown> };
}
interface Conflict {
  visitorId: string;
  method: string;
  linkedContactExternalId: string | null;
  attemptedContactExternalId: string | null;
}
/** A request the browser sent to Tend, seen through Playwright. */
interface TendRequest {
  method: string;
  path: string;
  resourceType: string;
  at: number;
  /** Tend's answer, once it arrived. */
  status?: number;
  /** Its Location header, for a redirect. */
  location?: string;
  context: BrowserContext;
}

const POLL = { timeoutMs: 5_000, intervalMs: 10 };
const SNIPPET_LOADED = 'typeof window.tend === "object" && typeof window.tend.page === "function"';

describe('site snippet and identity in a real browser (headless Chromium)', () => {
  let t: TestApp | undefined;
  let site: SiteServer | undefined;
  let browser: Browser | undefined;
  let tendBase: string;
  let context: BrowserContext;
  let page: Page;
  let x: SeededContact;
  let messageId: string;
  let visitorId: string;
  const tendRequests: TendRequest[] = [];
  const pageErrors: string[] = [];

  const app = (): TestApp => {
    if (!t) throw new Error('the test app did not start');
    return t;
  };
  const customerSite = (): SiteServer => {
    if (!site) throw new Error('the site server did not start');
    return site;
  };
  /** The admin API over the real socket. */
  async function admin<T>(path: string): Promise<T> {
    const response = await fetch(`${tendBase}${path}`, { headers: { 'x-api-key': TEST_API_KEY } });
    if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  }
  const siteEvents = (visitor: string, type = 'site.page_viewed'): Promise<SiteEventRow[]> =>
    app().db.dataSource.query(
      `SELECT type, contact_id, visitor_id, props FROM events
        WHERE visitor_id = $1 AND type = $2 ORDER BY occurred_at, id`,
      [visitor, type],
    );
  const visitorsOf = async (contact: string) =>
    (await admin<{ items: VisitorLink[] }>(`/api/contacts/${contact}/visitors`)).items;
  const timeline = async (contact: string, types: string) =>
    (await admin<{ items: TimelineItem[] }>(`/api/contacts/${contact}/timeline?types=${types}&order=asc&limit=100`))
      .items;
  const tendPosts = (ctx: BrowserContext, since = 0) =>
    tendRequests.slice(since).filter((r) => r.context === ctx && r.method === 'POST');
  const siteUrl = (path: string) => `${customerSite().origin}${path}`;
  async function visitorCookie(ctx: BrowserContext): Promise<string> {
    const cookie = (await ctx.cookies(customerSite().origin)).find((c) => c.name === 'tend_vid');
    if (!cookie) throw new Error('the snippet set no tend_vid cookie on the site');
    return cookie.value;
  }
  /** Opens a page of the site and waits until the snippet has run on it. */
  async function visit(on: Page, path: string): Promise<void> {
    const response = await on.goto(siteUrl(path));
    expect(response?.status()).toBe(200);
    await on.waitForFunction(SNIPPET_LOADED, undefined, { timeout: POLL.timeoutMs });
  }
  function watch(ctx: BrowserContext): void {
    const seen = new Map<Request, TendRequest>();
    ctx.on('request', (request) => {
      if (!request.url().startsWith(`${tendBase}/`)) return;
      const entry: TendRequest = {
        method: request.method(),
        path: new URL(request.url()).pathname,
        resourceType: request.resourceType(),
        at: Date.now(),
        context: ctx,
      };
      seen.set(request, entry);
      tendRequests.push(entry);
    });
    ctx.on('response', (response) => {
      const entry = seen.get(response.request());
      if (!entry) return;
      entry.status = response.status();
      entry.location = response.headers()['location'];
    });
    ctx.on('page', (p) => p.on('pageerror', (error) => pageErrors.push(`${p.url()}: ${error.message}`)));
  }
  async function newContext(options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
    if (!browser) throw new Error('the browser did not start');
    const ctx = await browser.newContext({ userAgent: DESKTOP_CHROME_UA, locale: 'en-US', ...options });
    // Every browser action and navigation is bounded too, well inside Jest's timeout.
    ctx.setDefaultTimeout(10_000);
    ctx.setDefaultNavigationTimeout(10_000);
    watch(ctx);
    return ctx;
  }

  beforeAll(async () => {
    const launchStarted = Date.now();
    browser = await launchChromium();
    console.log(`chromium ${browser.version()} launched in ${Date.now() - launchStarted} ms`);

    // Tend's public URL is baked into the snippet, so it must be the address it really listens on.
    const port = await freeLocalPort();
    tendBase = `http://127.0.0.1:${port}`;
    site = await startSiteServer({ tendBaseUrl: tendBase });
    t = await createTestApp({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: tendBase,
      SITE_ORIGINS: site.origin,
      TRACKING_FLUSH_INTERVAL: '50ms',
      TRACKING_HONOR_DNT: 'true',
    });
    // The browser acts in real time, so Tend's clock must too (token expiry, click timing).
    jest.spyOn(t.clock, 'now').mockImplementation(() => new Date());
    await t.app.listen({ port, host: '127.0.0.1' });
    const address = t.app.getHttpServer().address() as AddressInfo;
    expect(`http://${address.address}:${address.port}`).toBe(tendBase);

    x = await seedContact(t.db.dataSource, { account: 'acme', contact: 'x', email: 'x@acme.example' });
    await seedContact(t.db.dataSource, { account: 'acme', contact: 'y', email: 'y@acme.example' });
    messageId = await seedMessage(t.db.dataSource, x, {
      links: [siteUrl('/docs/getting-started?utm_source=mail')],
      sentAt: new Date(Date.now() - 3_600_000),
    });

    context = await newContext();
    page = await context.newPage();
  });

  afterAll(async () => {
    // Everything is closed even when a step above failed; the first failure is reported.
    const failures: unknown[] = [];
    for (const close of [() => browser?.close(), () => site?.close(), () => t?.close()]) {
      try {
        await close();
      } catch (error) {
        failures.push(error);
      }
    }
    jest.restoreAllMocks();
    if (failures.length > 0) throw failures[0];
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  it('records anonymous page views sent by the snippet', async () => {
    await visit(page, '/');
    // Follow the site's own navigation, as a visitor would (so the page has a referrer).
    await Promise.all([page.waitForURL(siteUrl('/pricing')), page.click('nav a[href="/pricing"]')]);
    await page.waitForFunction(SNIPPET_LOADED, undefined, { timeout: POLL.timeoutMs });
    visitorId = await visitorCookie(context);
    expect(visitorId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const beacons = await waitUntil(
      'two page-view posts from the browser',
      async () => tendPosts(context),
      (posts) => posts.length >= 2,
      POLL,
    );
    const views = await waitUntil(
      'the two anonymous page views to be stored',
      () => siteEvents(visitorId),
      (rows) => rows.length >= 2,
      POLL,
    );
    console.log(`page view posted -> stored (flush interval 50 ms): ${Date.now() - beacons[1]!.at} ms`);
    expect(views.map((v) => [v.props.path, v.contact_id])).toEqual([
      ['/', null],
      ['/pricing', null],
    ]);
    expect(views[1]!.props).toMatchObject({
      url: siteUrl('/pricing'),
      title: 'Acme - Pricing',
      referrer: siteUrl('/'),
      ip: '127.0.0.0',
      userAgent: DESKTOP_CHROME_UA,
    });
    // One beacon (or keepalive fetch) per page view; Tend stored them, so it accepted the site's Origin.
    expect(tendPosts(context).map((r) => r.path)).toEqual(['/t/collect', '/t/collect']);
    expect(await visitorsOf('x')).toEqual([]);
  });

  it('links the browser to the contact who clicks an emailed link, and strips the identity from the URL', async () => {
    const clickUrl = `${tendBase}/t/c/${app().app.get(TrackingTokenSigner).sign({ k: 'c', m: messageId, l: 0 })}`;
    const mark = tendRequests.length;
    // Watch from before the click, so what is measured is when the link became visible, not when we looked.
    const stop = new AbortController();
    const watchFor = <T>(what: string, read: () => Promise<T>, accept: (value: T) => boolean) => {
      const seen = waitUntil(what, read, accept, { ...POLL, timeoutMs: 15_000, signal: stop.signal }).then((value) => ({
        value,
        at: Date.now(),
      }));
      seen.catch(() => undefined); // awaited below; not unhandled meanwhile
      return seen;
    };
    const linkSeen = watchFor(
      'the visitor to be linked to x as verified',
      () => visitorsOf('x'),
      (items) => items.some((i) => i.visitorId === visitorId && i.linkStatus === 'verified'),
    );
    // The anonymous visits before the click then belong to x, followed by the landing page.
    const timelineSeen = watchFor(
      "x's timeline to show the two anonymous visits and the landing page",
      () => timeline('x', 'site.page_viewed'),
      (items) => items.length >= 3,
    );
    try {
      const landed = await page.goto(clickUrl).catch((error: unknown) => {
        // Say where Tend sent the browser: a failing redirect target is reported at the click URL.
        const answer = tendRequests.slice(mark).find((r) => r.path.startsWith('/t/c/'));
        throw new Error(`${String(error)}\nTend answered the click with ${answer?.status} to ${answer?.location}`, {
          cause: error,
        });
      });
      expect(landed?.status()).toBe(200);

      // Tend answered 302 to the stored link plus a signed identity, and the site received exactly that.
      const redirect = landed!.request().redirectedFrom();
      expect(redirect?.url()).toBe(clickUrl);
      const redirectResponse = await redirect!.response();
      expect(redirectResponse?.status()).toBe(302);
      const location = new URL(redirectResponse!.headers()['location']!);
      expect(location.origin + location.pathname).toBe(siteUrl('/docs/getting-started'));
      expect(location.searchParams.get('utm_source')).toBe('mail');
      expect(location.searchParams.get('tend_id')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(customerSite().requests).toContain(`GET ${location.pathname}${location.search}`);

      // The snippet took the identity out of the address bar (and so out of bookmarks and shares).
      await page.waitForFunction(SNIPPET_LOADED, undefined, { timeout: POLL.timeoutMs });
      const href = await page.evaluate<string>('location.href');
      expect(href).toBe(siteUrl('/docs/getting-started?utm_source=mail'));
      expect(page.url()).not.toContain('tend_id');
      expect(await page.textContent('#docs-title')).toBe('Getting started');

      const identify = await waitUntil(
        'the snippet to post /t/identify',
        async () => tendPosts(context, mark).find((r) => r.path === '/t/identify'),
        (request) => request !== undefined,
        POLL,
      );
      const linked = await linkSeen;
      console.log(
        `identify request (${identify!.resourceType}) -> link visible in the admin API: ${linked.at - identify!.at} ms`,
      );
      expect(linked.value).toEqual([expect.objectContaining({ visitorId, linkStatus: 'verified' })]);

      const { value: views, at: timelineAt } = await timelineSeen;
      console.log(`identify request -> timeline complete: ${timelineAt - identify!.at} ms`);
      expect(views.map((v) => [v.props.path, v.contactExternalId, v.visitorId])).toEqual([
        ['/', 'x', visitorId],
        ['/pricing', 'x', visitorId],
        ['/docs/getting-started', 'x', visitorId],
      ]);
      expect(views[2]!.props.url).toBe(siteUrl('/docs/getting-started?utm_source=mail'));
      const answered = await waitUntil(
        "Tend's answer to the identify",
        async () => identify!.status,
        (status) => status !== undefined,
        POLL,
      );
      expect(answered).toBe(204);

      // The click itself was a human click on x's message.
      await app().app.get(TrackingRecorder).flush();
      const clicks = await app().db.dataSource.query<{ contact_id: string; props: Record<string, unknown> }[]>(
        `SELECT contact_id, props FROM events WHERE type = 'email.clicked'`,
      );
      expect(clicks).toEqual([
        expect.objectContaining({
          contact_id: x.contactId,
          props: expect.objectContaining({ messageId, classification: 'human' }) as unknown,
        }),
      ]);
      // The identity token was never stored anywhere.
      const [leaks] = await app().db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM events WHERE props::text LIKE '%tend_id%'`,
      );
      expect(leaks!.n).toBe(0);
    } finally {
      stop.abort();
    }
  });

  it('records a conflict, and keeps the verified link, when another contact identifies through a form', async () => {
    const mark = tendRequests.length;
    await visit(page, '/signup');
    await page.fill('#email', 'Y@Acme.example');
    await page.click('#submit');
    await page.waitForSelector('text=Thanks, Y@Acme.example', { timeout: POLL.timeoutMs });
    await waitUntil(
      'the form identify to be posted',
      async () => tendPosts(context, mark).filter((r) => r.path === '/t/identify').length,
      (n) => n === 1,
      POLL,
    );

    const conflicts = await waitUntil(
      'an identity conflict for this browser',
      async () => (await admin<{ items: Conflict[] }>('/api/identity-conflicts')).items,
      (items) => items.some((c) => c.visitorId === visitorId),
      POLL,
    );
    expect(conflicts).toEqual([
      expect.objectContaining({
        visitorId,
        method: 'unverified',
        linkedContactExternalId: 'x',
        attemptedContactExternalId: 'y',
      }),
    ]);
    expect(await visitorsOf('x')).toEqual([expect.objectContaining({ visitorId, linkStatus: 'verified' })]);
    expect(await visitorsOf('y')).toEqual([]);
  });

  it('counts a client-side route change as a page view and records custom events', async () => {
    await visit(page, '/app');
    await page.click('#to-settings');
    await page.waitForURL(siteUrl('/app/settings'), { timeout: POLL.timeoutMs });
    const [settings] = await waitUntil(
      'the pushState route change to be stored as a page view',
      async () => (await siteEvents(visitorId)).filter((v) => v.props.path === '/app/settings'),
      (rows) => rows.length === 1,
      POLL,
    );
    expect(settings!.props).toMatchObject({
      url: siteUrl('/app/settings'),
      referrer: siteUrl('/app'),
      title: 'Acme App /app/settings',
    });
    // The route change loaded nothing from the site.
    expect(customerSite().requests).not.toContain('GET /app/settings');

    await page.evaluate("tend.track('webinar_signup', { webinar: 'w1' })");
    const [signup] = await waitUntil(
      'the custom event to be stored',
      () => siteEvents(visitorId, 'site.webinar_signup'),
      (rows) => rows.length === 1,
      POLL,
    );
    expect(signup!.props).toMatchObject({ path: '/app/settings', props: { webinar: 'w1' } });
    const custom = await timeline('x', 'site.webinar_signup');
    expect(custom).toEqual([expect.objectContaining({ contactExternalId: 'x', props: expect.anything() as unknown })]);
    expect(custom[0]!.props.props).toEqual({ webinar: 'w1' });
  });

  it('sends and records nothing after tend.optOut(), until tend.optIn()', async () => {
    await visit(page, '/app');
    await page.click('#opt-out');
    expect((await context.cookies(customerSite().origin)).find((c) => c.name === 'tend_optout')?.value).toBe('1');
    const mark = tendRequests.length;
    await page.click('#to-reports');
    await page.waitForURL(siteUrl('/app/reports'), { timeout: POLL.timeoutMs });
    await visit(page, '/pricing?after=optout');
    await page.evaluate("tend.track('webinar_signup', { webinar: 'opted-out' })");
    // A beacon would have been queued synchronously; give the network a moment to show one.
    await sleep(300);
    expect(tendPosts(context, mark)).toEqual([]);

    // Opting back in resumes tracking; once that page view is stored, nothing earlier is still on its way.
    await page.evaluate('tend.optIn()');
    await visit(page, '/docs/getting-started?after=optin');
    await waitUntil(
      'the page view after opting back in',
      () => siteEvents(visitorId),
      (rows) => rows.some((r) => r.props.url === siteUrl('/docs/getting-started?after=optin')),
      POLL,
    );
    await app().app.get(TrackingRecorder).flush();
    const paths = (await siteEvents(visitorId)).map((r) => r.props.url);
    expect(paths).not.toContain(siteUrl('/app/reports'));
    expect(paths).not.toContain(siteUrl('/pricing?after=optout'));
    expect(await siteEvents(visitorId, 'site.webinar_signup')).toHaveLength(1);
  });

  it('honours Global Privacy Control in the browser and Do Not Track at the server', async () => {
    // GPC exposed to scripts: the snippet sends nothing at all.
    const gpc = await newContext();
    try {
      await gpc.addInitScript(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true })",
      );
      const gpcPage = await gpc.newPage();
      await visit(gpcPage, '/pricing?privacy=gpc');
      await gpcPage.evaluate("tend.track('webinar_signup', { webinar: 'gpc' })");
      await sleep(300);
      expect(tendPosts(gpc)).toEqual([]);
      const gpcVisitor = await visitorCookie(gpc);
      await app().app.get(TrackingRecorder).flush();
      expect(await siteEvents(gpcVisitor)).toEqual([]);
    } finally {
      await gpc.close();
    }

    // A DNT header the page cannot see: the snippet sends, Tend answers and records nothing.
    const dnt = await newContext({ extraHTTPHeaders: { DNT: '1' } });
    try {
      const dntPage = await dnt.newPage();
      const collected = dntPage.waitForResponse((r) => r.url() === `${tendBase}/t/collect`, {
        timeout: POLL.timeoutMs,
      });
      collected.catch(() => undefined); // awaited below; not unhandled if the visit fails first
      await visit(dntPage, '/pricing?privacy=dnt');
      expect((await collected).status()).toBe(204);
      const dntVisitor = await visitorCookie(dnt);
      await app().app.get(TrackingRecorder).flush();
      expect(await siteEvents(dntVisitor)).toEqual([]);
      const [seen] = await app().db.dataSource.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM visitors WHERE id = $1',
        [dntVisitor],
      );
      expect(seen!.n).toBe(0);
    } finally {
      await dnt.close();
    }
  });
});
