import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freeLocalPort, launchChromium } from './support/browser';
import { createTestApp, TEST_API_KEY, type TestApp } from './support/test-app';

/*
 * CSM handoffs for people: the admin API (raise by hand with dedupe, list with filters and
 * keyset pages, acknowledge / resolve / dismiss with their conflicts, validation, the
 * manual tech-touch pause) and the server-rendered CSM pages in headless Chromium, opened
 * with the signed link the API hands out. Tend listens on a real socket for the browser.
 */

interface HandoffJson {
  id: string;
  status: string;
  reason: string;
  kind: string;
  priority: string;
  source: string;
  repeats: number;
  account: { externalId: string; name: string };
  csm: { externalId: string; name: string | null } | null;
  createdAt: string;
  dueAt: string | null;
  acknowledgedBy: string | null;
  resolvedBy: string | null;
  outcome: string | null;
  dismissedBy: string | null;
  context: {
    account: { name: string; lifecycle: string; tier: string; daysToRenewal: number | null };
    emails: { template: string; opened: boolean; clicked: boolean }[];
    siteVisits: { section: string; views: number }[];
    usage: unknown[];
  };
  history: { action: string; actor: string | null; detail: Record<string, unknown> }[];
}
interface Issues {
  error: string;
  issues?: { path: string; message: string }[];
}

const NOW = new Date('2026-11-01T00:00:00Z');
const ACCOUNT_NAME = 'Acme 株式会社';

describe('CSM handoffs: admin API and pages', () => {
  let t: TestApp;
  let browser: Browser | undefined;
  let tendBase: string;
  let acmeHandoff: string;

  const paths = (body: unknown) => ((body as Issues).issues ?? []).map((i) => i.path);

  beforeAll(async () => {
    const port = await freeLocalPort();
    tendBase = `http://127.0.0.1:${port}`;
    t = await createTestApp({ PORT: String(port), HOST: '127.0.0.1', PUBLIC_BASE_URL: tendBase });
    t.clock.set(NOW);
    await t.app.listen({ port, host: '127.0.0.1' });

    const ok = async (path: string, body: unknown) => {
      const r = await t.api('POST', path, body);
      if (r.status !== 201) throw new Error(`POST ${path} answered ${r.status}: ${r.body}`);
    };
    await ok('/api/csms', { externalId: 'csm-sato', name: '佐藤 花子', email: 'sato@tend.example', locale: 'ja' });
    await ok('/api/csms', { externalId: 'csm-lee', name: 'Dana Lee', email: 'lee@tend.example', locale: 'en' });
    await ok('/api/accounts', {
      externalId: 'acme',
      name: ACCOUNT_NAME,
      plan: 'business',
      ownerCsmExternalId: 'csm-sato',
      contractStartDate: '2026-01-15',
      renewalDate: '2027-01-15',
    });
    await ok('/api/accounts', { externalId: 'beta', name: 'Beta <b>Corp</b>', ownerCsmExternalId: 'csm-lee' });
    await ok('/api/contacts', {
      externalId: 'acme-taro',
      accountExternalId: 'acme',
      email: 'taro@acme.example',
      name: '山田 太郎',
    });

    // The account's story: a mail the contact opened, and site visits to the pricing section.
    const ds = t.db.dataSource;
    const [ids] = await ds.query<{ account: string; contact: string }[]>(
      `SELECT a.id AS account, c.id AS contact FROM accounts a JOIN contacts c ON c.account_id = a.id
        WHERE a.external_id = 'acme'`,
    );
    const messageId = randomUUID();
    await ds.query(
      `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, sent_at, status, created_at)
       VALUES ($1, $2, $3, $4, 'onboarding/first-steps', 'ja', 'advertising', $5, 'sent', $5)`,
      [messageId, `test:${messageId}`, ids!.contact, ids!.account, '2026-10-28T01:00:00Z'],
    );
    await ds.query(
      `INSERT INTO events (type, occurred_at, account_id, contact_id, source, idempotency_key, props)
       VALUES ('email.opened', '2026-10-28T02:00:00Z', $1, $2, 'tracking', $3, $4::jsonb)`,
      [ids!.account, ids!.contact, `open:${messageId}`, JSON.stringify({ messageId })],
    );
    // Three logins the last week of October, not folded into the rollups yet (no worker tick
    // runs here): raising a handoff folds first, so its context counts them.
    await ds.query(
      `INSERT INTO events (type, occurred_at, account_id, contact_id, source, idempotency_key)
       SELECT 'login', '2026-10-27T03:00:00Z'::timestamptz + g * interval '1 hour', $1, $2, 'api', 'login-' || g
         FROM generate_series(1, 3) g`,
      [ids!.account, ids!.contact],
    );
    const visitor = randomUUID();
    await ds.query(
      `INSERT INTO visitors (id, first_seen_at, last_seen_at, contact_id, link_status, linked_at)
       VALUES ($1, '2026-10-20T00:00:00Z', '2026-10-29T00:00:00Z', $2, 'verified', '2026-10-20T00:00:00Z')`,
      [visitor, ids!.contact],
    );
    await ds.query(
      `INSERT INTO visitor_daily_site (visitor_id, day, type, section, events)
       VALUES ($1, '2026-10-29', 'site.page_viewed', 'pricing', 4)`,
      [visitor],
    );
  });

  afterAll(async () => {
    const failures: unknown[] = [];
    for (const close of [() => browser?.close(), () => t?.close()]) {
      try {
        await close();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  });

  describe('admin API', () => {
    it('answers 401 without the API key', async () => {
      for (const [method, url] of [
        ['GET', '/api/handoffs'],
        ['POST', '/api/handoffs'],
        ['GET', `/api/handoffs/${randomUUID()}`],
        ['POST', '/api/accounts/acme/tech-touch-pause'],
        ['GET', '/api/csms/csm-sato/handoff-link'],
      ] as const) {
        const r = await t.app.inject({ method, url });
        expect([method, url, r.statusCode]).toEqual([method, url, 401]);
      }
    });

    it('raises a handoff by hand (201, assigned to the owner, with its context); a repeat joins it (200, repeated)', async () => {
      const first = await t.api('POST', '/api/handoffs', {
        accountExternalId: 'acme',
        contactExternalId: 'acme-taro',
        reason: 'champion_left',
        reasonText: 'Our champion moved to another team',
        priority: 'high',
        note: 'heard on the phone',
      });
      expect(first.status).toBe(201);
      const h = first.json() as HandoffJson;
      acmeHandoff = h.id;
      expect(h).toMatchObject({
        status: 'open',
        reason: 'champion_left',
        kind: 'request',
        priority: 'high',
        source: 'api',
        repeats: 0,
        account: { externalId: 'acme', name: ACCOUNT_NAME },
        csm: { externalId: 'csm-sato', name: '佐藤 花子' },
        createdAt: NOW.toISOString(),
      });
      expect(new Date(h.dueAt!).getTime()).toBeGreaterThan(NOW.getTime());
      expect(h.context.account.name).toBe(ACCOUNT_NAME);
      expect(h.context.emails).toEqual([
        expect.objectContaining({ template: 'onboarding/first-steps', opened: true, clicked: false }),
      ]);
      expect(h.context.siteVisits).toEqual([expect.objectContaining({ section: 'pricing', views: 4 })]);
      expect(h.context.usage).toContainEqual(expect.objectContaining({ weekStart: '2026-10-26', logins: 3 }));
      expect(h.history.map((x) => [x.action, x.actor])).toEqual([['created', 'api']]);

      t.clock.advance(60_000);
      const again = await t.api('POST', '/api/handoffs', {
        accountExternalId: 'acme',
        reason: 'champion_left',
        priority: 'normal',
        note: 'the CFO called too',
      });
      expect(again.status).toBe(200);
      const joined = again.json() as HandoffJson;
      expect(joined.id).toBe(h.id);
      expect(joined.repeats).toBe(1);
      expect(joined.history.map((x) => x.action)).toEqual(['created', 'repeated']);
      expect(joined.history[1]!.detail).toMatchObject({ note: 'the CFO called too' });
      const count = await t.db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM handoffs`);
      expect(count[0]!.n).toBe(1);
    });

    it('an idempotency key makes a retried raise one raise (no repeat entry)', async () => {
      const body = {
        accountExternalId: 'beta',
        reason: 'renewal_risk',
        kind: 'risk',
        priority: 'low',
        idempotencyKey: 'req-1',
      };
      const first = await t.api('POST', '/api/handoffs', body);
      expect(first.status).toBe(201);
      const retry = await t.api('POST', '/api/handoffs', body);
      expect(retry.status).toBe(200);
      const h = retry.json() as HandoffJson;
      expect(h.id).toBe((first.json() as HandoffJson).id);
      expect(h).toMatchObject({ kind: 'risk', repeats: 0, csm: { externalId: 'csm-lee' } });
      expect(h.history.map((x) => x.action)).toEqual(['created']);
    });

    it('rejects invalid bodies with field paths, and unknown accounts with 404', async () => {
      const bad = await t.api('POST', '/api/handoffs', {
        accountExternalId: 'acme',
        reason: 'Not A Code',
        priority: 'meh',
        kind: 'chat',
        colour: 'red',
      });
      expect(bad.status).toBe(400);
      expect(paths(bad.json()).sort()).toEqual(['colour', 'kind', 'priority', 'reason']);
      const missing = await t.api('POST', '/api/handoffs', {});
      expect(missing.status).toBe(400);
      expect(paths(missing.json()).sort()).toEqual(['accountExternalId', 'priority', 'reason']);
      const unknown = await t.api('POST', '/api/handoffs', { accountExternalId: 'nope', reason: 'x', priority: 'low' });
      expect(unknown.status).toBe(404);
      const otherContact = await t.api('POST', '/api/handoffs', {
        accountExternalId: 'beta',
        contactExternalId: 'acme-taro',
        reason: 'x',
        priority: 'low',
      });
      expect(otherContact.status).toBe(400);
      expect(paths(otherContact.json())).toEqual(['contactExternalId']);
    });

    it('lists newest first with filters and keyset pages; unknown query fields are 400 with their paths', async () => {
      const all = (await t.api('GET', '/api/handoffs')).json() as { items: HandoffJson[]; nextCursor: string | null };
      expect(all.items.map((h) => h.account.externalId)).toEqual(['beta', 'acme']);
      expect(all.nextCursor).toBeNull();

      const ids = async (query: string) => {
        const r = await t.api('GET', `/api/handoffs?${query}`);
        expect([query, r.status]).toEqual([query, 200]);
        return (r.json() as { items: HandoffJson[] }).items.map((h) => h.account.externalId);
      };
      expect(await ids('csm=csm-sato')).toEqual(['acme']);
      expect(await ids('csm=csm-lee&status=open,acknowledged')).toEqual(['beta']);
      expect(await ids('status=resolved')).toEqual([]);
      expect(await ids('priority=high,urgent')).toEqual(['acme']);
      expect(await ids('reason=renewal_risk')).toEqual(['beta']);
      expect(await ids('account=acme')).toEqual(['acme']);

      const page1 = (await t.api('GET', '/api/handoffs?limit=1')).json() as {
        items: HandoffJson[];
        nextCursor: string | null;
      };
      expect(page1.items.map((h) => h.account.externalId)).toEqual(['beta']);
      expect(page1.nextCursor).not.toBeNull();
      const page2 = (
        await t.api('GET', `/api/handoffs?limit=1&cursor=${encodeURIComponent(page1.nextCursor!)}`)
      ).json() as { items: HandoffJson[]; nextCursor: string | null };
      expect(page2.items.map((h) => h.account.externalId)).toEqual(['acme']);
      expect(page2.nextCursor).toBeNull();

      const bad = await t.api('GET', '/api/handoffs?colour=red&status=bogus&limit=0');
      expect(bad.status).toBe(400);
      const badPaths = paths(bad.json());
      expect(badPaths).toEqual(expect.arrayContaining(['colour', 'limit']));
      expect(badPaths.some((p) => p.startsWith('status'))).toBe(true);
      const badCursor = await t.api('GET', '/api/handoffs?cursor=abc');
      expect(badCursor.status).toBe(400);
      expect(paths(badCursor.json())).toEqual(['cursor']);
      expect((await t.api('GET', '/api/handoffs?csm=nobody')).status).toBe(404);
    });

    it('acknowledges, resolves and dismisses; an impossible transition is 409, an unknown handoff 404', async () => {
      const beta = ((await t.api('GET', '/api/handoffs?account=beta')).json() as { items: HandoffJson[] }).items[0]!;
      const url = `/api/handoffs/${beta.id}`;

      // History is ordered by time: each step a moment after the last.
      t.clock.advance(1000);
      const ack = await t.api('POST', `${url}/acknowledge`, { by: 'csm-lee' });
      expect(ack.status).toBe(200);
      expect(ack.json()).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'csm-lee' });
      expect((await t.api('POST', `${url}/acknowledge`, { by: 'csm-lee' })).status).toBe(200);

      const noOutcome = await t.api('POST', `${url}/resolve`, { by: 'csm-lee' });
      expect(noOutcome.status).toBe(400);
      expect(paths(noOutcome.json())).toEqual(['outcome']);
      const noBy = await t.api('POST', `${url}/acknowledge`, {});
      expect(noBy.status).toBe(400);
      expect(paths(noBy.json())).toEqual(['by']);

      t.clock.advance(1000);
      const resolved = await t.api('POST', `${url}/resolve`, { by: 'csm-lee', outcome: 'Renewal call booked' });
      expect(resolved.status).toBe(200);
      expect(resolved.json()).toMatchObject({
        status: 'resolved',
        resolvedBy: 'csm-lee',
        outcome: 'Renewal call booked',
      });

      const dismissResolved = await t.api('POST', `${url}/dismiss`, { by: 'csm-lee' });
      expect(dismissResolved.status).toBe(409);
      expect((dismissResolved.json() as Issues).error).toBe('conflict');
      expect((await t.api('POST', `${url}/acknowledge`, { by: 'csm-lee' })).status).toBe(409);

      // A new one for the same reason now that the old one is closed; dismissed, it cannot be resolved.
      const fresh = await t.api('POST', '/api/handoffs', {
        accountExternalId: 'beta',
        reason: 'renewal_risk',
        priority: 'normal',
      });
      expect(fresh.status).toBe(201);
      const freshId = (fresh.json() as HandoffJson).id;
      expect(freshId).not.toBe(beta.id);
      const dismissed = await t.api('POST', `/api/handoffs/${freshId}/dismiss`, {
        by: 'csm-lee',
        note: 'duplicate of a call',
      });
      expect(dismissed.status).toBe(200);
      expect(dismissed.json()).toMatchObject({ status: 'dismissed', dismissedBy: 'csm-lee' });
      expect((await t.api('POST', `/api/handoffs/${freshId}/resolve`, { by: 'x', outcome: 'y' })).status).toBe(409);

      const detail = (await t.api('GET', url)).json() as HandoffJson;
      expect(detail.history.map((x) => x.action)).toEqual(['created', 'acknowledged', 'resolved']);
      expect(detail.history[2]!.detail).toEqual({ note: 'Renewal call booked' });

      for (const id of [randomUUID(), 'not-a-uuid']) {
        expect((await t.api('GET', `/api/handoffs/${id}`)).status).toBe(404);
        expect((await t.api('POST', `/api/handoffs/${id}/acknowledge`, { by: 'x' })).status).toBe(404);
      }
      const events = await t.db.dataSource.query<{ type: string }[]>(
        `SELECT type FROM events WHERE props->>'handoffId' = $1 ORDER BY id`,
        [beta.id],
      );
      expect(events.map((e) => e.type)).toEqual(['handoff.created', 'handoff.acknowledged', 'handoff.resolved']);
    });

    it('pauses tech-touch for an account until a future time, and resumes it', async () => {
      const pausedUntil = async () =>
        (
          await t.db.dataSource.query<{ until: Date | null; note: string | null }[]>(
            `SELECT tech_touch_paused_until AS until, tech_touch_pause_note AS note FROM accounts WHERE external_id = 'beta'`,
          )
        )[0]!;
      const until = '2026-11-20T00:00:00.000Z';
      const paused = await t.api('POST', '/api/accounts/beta/tech-touch-pause', { until, note: 'in negotiation' });
      expect(paused.status).toBe(200);
      expect(paused.json()).toEqual({ accountExternalId: 'beta', pausedUntil: until, note: 'in negotiation' });
      const row = await pausedUntil();
      expect(new Date(row.until!).toISOString()).toBe(until);
      expect(row.note).toBe('in negotiation');

      const past = await t.api('POST', '/api/accounts/beta/tech-touch-pause', { until: '2026-10-01T00:00:00Z' });
      expect(past.status).toBe(400);
      expect(paths(past.json())).toEqual(['until']);
      const missing = await t.api('POST', '/api/accounts/beta/tech-touch-pause', { note: 'x', extra: true });
      expect(missing.status).toBe(400);
      expect(paths(missing.json()).sort()).toEqual(['extra', 'until']);
      const notDate = await t.api('POST', '/api/accounts/beta/tech-touch-pause', { until: 'next week' });
      expect(paths(notDate.json())).toEqual(['until']);
      expect((await t.api('POST', '/api/accounts/nope/tech-touch-pause', { until })).status).toBe(404);

      const resumed = await t.api('DELETE', '/api/accounts/beta/tech-touch-pause');
      expect(resumed.status).toBe(200);
      expect(resumed.json()).toEqual({ accountExternalId: 'beta', pausedUntil: null, note: null });
      expect(await pausedUntil()).toEqual({ until: null, note: null });
    });

    it('hands out a signed link to a CSM list page (no email address in it)', async () => {
      const r = await t.api('GET', '/api/csms/csm-sato/handoff-link');
      expect(r.status).toBe(200);
      const link = r.json() as { url: string; expiresAt: string };
      expect(link.url.startsWith(`${tendBase}/csm/handoffs?t=`)).toBe(true);
      expect(link.url).not.toContain('@');
      expect(link.url).not.toContain('sato');
      expect(new Date(link.expiresAt).getTime()).toBe(t.clock.now().getTime() + 14 * 86_400_000);
      expect((await t.api('GET', '/api/csms/nobody/handoff-link')).status).toBe(404);
    });
  });

  describe('CSM pages in headless Chromium', () => {
    let context: BrowserContext;
    let page: Page;
    let listUrl: string;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      browser = await launchChromium();
      context = await browser.newContext({ locale: 'ja-JP' });
      page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      listUrl = ((await t.api('GET', '/api/csms/csm-sato/handoff-link')).json() as { url: string }).url;
    });

    afterAll(async () => {
      await context?.close();
    });

    it('opens the signed list, views the handoff with its context, acknowledges and resolves it', async () => {
      const response = await page.goto(listUrl);
      expect(response?.status()).toBe(200);
      const headers = response!.headers();
      expect(headers['content-security-policy']).toContain("default-src 'none'");
      expect(headers['cache-control']).toBe('no-store');
      expect(headers['referrer-policy']).toBe('no-referrer');
      expect(await page.title()).toBe('引き継ぎ一覧');
      // Sato's open handoffs only: Acme, not Lee's Beta.
      const rows = page.locator('tr[data-handoff]');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().innerText()).toContain(ACCOUNT_NAME);
      expect(await rows.first().innerText()).toContain('未対応');

      await page.getByRole('link', { name: ACCOUNT_NAME }).click();
      await page.waitForURL(`**/csm/handoffs/${acmeHandoff}?**`);
      const api = (await t.api('GET', `/api/handoffs/${acmeHandoff}`)).json() as HandoffJson;
      const account = await page.locator('#context-account').innerText();
      expect(account).toContain(ACCOUNT_NAME);
      expect(account).toContain(api.context.account.lifecycle);
      expect(account).toContain(api.context.account.tier);
      const emailRow = await page.locator('#context-emails tbody tr').first().innerText();
      expect(emailRow).toContain('onboarding/first-steps');
      expect(emailRow.split('\t').slice(-2)).toEqual(['あり', 'なし']);
      expect(await page.locator('#context-site').innerText()).toContain('pricing');
      expect(await page.locator('#context-usage tbody tr').count()).toBe(api.context.usage.length);
      expect(await page.locator('#history').innerText()).toContain('repeated');

      t.clock.advance(1000);
      await page.locator('#acknowledge button').click();
      await page.waitForSelector('p.notice');
      expect(await page.locator('#handoff').innerText()).toContain('対応中');
      expect(await page.locator('#acknowledge').count()).toBe(0);

      t.clock.advance(1000);
      await page.locator('#outcome').fill('電話で更新意向を確認 <ok>');
      await page.locator('#resolve button').click();
      await page.waitForSelector('p.notice');
      const facts = await page.locator('#handoff').innerText();
      expect(facts).toContain('解決済み');
      expect(facts).toContain('電話で更新意向を確認 <ok>');
      expect(await page.locator('#actions').count()).toBe(0);

      const after = (await t.api('GET', `/api/handoffs/${acmeHandoff}`)).json() as HandoffJson;
      expect(after).toMatchObject({
        status: 'resolved',
        acknowledgedBy: 'csm:csm-sato',
        resolvedBy: 'csm:csm-sato',
        outcome: '電話で更新意向を確認 <ok>',
      });
      expect(pageErrors).toEqual([]);
    });

    it('filters with the GET form and switches language with ?lang=', async () => {
      const english = new URL(listUrl);
      english.searchParams.set('lang', 'en');
      await page.goto(english.toString());
      expect(await page.title()).toBe('Handoffs');
      expect(await page.locator('tr[data-handoff]').count()).toBe(0);
      await page.locator('#f-csm').selectOption('');
      await page.locator('#f-status').selectOption('resolved');
      await page.locator('#filters button').click();
      await page.waitForURL('**status=resolved**');
      const rows = await page.locator('tr[data-handoff]').allInnerTexts();
      expect(rows).toHaveLength(2);
      expect(rows.join('\n')).toContain(ACCOUNT_NAME);
      // Escaped, not markup: the name shows its brackets as text.
      expect(rows.join('\n')).toContain('Beta <b>Corp</b>');
      expect(await page.locator('tr[data-handoff] b').count()).toBe(0);
      expect(pageErrors).toEqual([]);
    });

    it('answers 401 with a neutral page to a missing, tampered or expired token', async () => {
      const token = new URL(listUrl).searchParams.get('t')!;
      const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
      for (const url of [
        `${tendBase}/csm/handoffs`,
        `${tendBase}/csm/handoffs?t=garbage`,
        `${tendBase}/csm/handoffs?t=${tampered}`,
        `${tendBase}/csm/handoffs/${acmeHandoff}?t=${tampered}`,
      ]) {
        const response = await page.goto(url);
        expect([url, response?.status()]).toEqual([url, 401]);
        expect(await page.content()).not.toContain(ACCOUNT_NAME);
      }
      const post = await fetch(`${tendBase}/csm/handoffs/${acmeHandoff}/acknowledge`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `t=${tampered}`,
      });
      expect(post.status).toBe(401);

      t.clock.advance(15 * 86_400_000);
      const expired = await fetch(listUrl);
      expect(expired.status).toBe(401);
      // The API key is no way in either: the pages take only the signed token.
      const withKey = await fetch(`${tendBase}/csm/handoffs`, { headers: { 'x-api-key': TEST_API_KEY } });
      expect(withKey.status).toBe(401);
    });
  });
});
