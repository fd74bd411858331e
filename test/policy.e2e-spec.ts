import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { RecipientPolicy } from '../src/messaging/messaging.contracts';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
import { seedContact, seedMessage, type SeededContact } from './support/seed';
import { createTestApp, type TestApp } from './support/test-app';

interface EventRow {
  type: string;
  contact_id: string | null;
  source: string;
  idempotency_key: string;
  props: Record<string, unknown>;
}

describe('recipient policy, unsubscribe, suppressions and the SendGrid webhook', () => {
  let t: TestApp;
  let signer: TrackingTokenSigner;
  let policy: RecipientPolicy;
  let privateKey: KeyObject;
  let n = 0;

  /** A fresh contact (and account) per test, so tests never share state. */
  const contact = async (fields: Record<string, string | null> = {}): Promise<SeededContact & { email: string }> => {
    n += 1;
    const email = `person${n}@example.jp`;
    const seeded = await seedContact(t.db.dataSource, { account: `acct-${n}`, contact: `c-${n}`, email });
    for (const [column, value] of Object.entries(fields)) {
      await t.db.dataSource.query(`UPDATE contacts SET ${column} = $2 WHERE id = $1`, [seeded.contactId, value]);
    }
    return { ...seeded, email };
  };
  const message = (to: SeededContact) => seedMessage(t.db.dataSource, to, { links: [], sentAt: t.clock.now() });
  const q = <T>(sql: string, params: unknown[] = []): Promise<T[]> => t.db.dataSource.query(sql, params);
  const suppression = async (email: string) =>
    (
      await q<{ reason: string; source: string; created_at: Date }>(`SELECT * FROM suppressions WHERE email = $1`, [
        email,
      ])
    )[0];
  const eventsOf = (contactId: string) =>
    q<EventRow>(
      `SELECT type, contact_id, source, idempotency_key, props FROM events WHERE contact_id = $1 ORDER BY id`,
      [contactId],
    );
  const check = (contactId: string, kind: 'advertising' | 'operational', topic: string | null = null) =>
    policy.check(t.db.dataSource.manager, contactId, kind, topic);

  beforeAll(async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    privateKey = pair.privateKey;
    t = await createTestApp({
      SENDGRID_WEBHOOK_PUBLIC_KEY: pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    });
    signer = t.app.get(TrackingTokenSigner);
    policy = t.app.get(RecipientPolicy);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('RecipientPolicy.check', () => {
    it('allows both kinds to an active contact with a consent basis', async () => {
      const c = await contact();
      await expect(check(c.contactId, 'advertising', 'product_tips')).resolves.toEqual({ allowed: true });
      await expect(check(c.contactId, 'operational')).resolves.toEqual({ allowed: true });
    });

    it('refuses advertising mail without consent but lets operational mail through', async () => {
      const c = await contact({ consent_basis: null });
      await expect(check(c.contactId, 'advertising')).resolves.toEqual({ allowed: false, reason: 'no_consent' });
      await expect(check(c.contactId, 'operational')).resolves.toEqual({ allowed: true });
    });

    it('refuses advertising mail to a contact who left', async () => {
      const c = await contact({ status: 'left' });
      await expect(check(c.contactId, 'advertising')).resolves.toEqual({ allowed: false, reason: 'contact_left' });
      await expect(check(c.contactId, 'operational')).resolves.toEqual({ allowed: true });
    });

    it('refuses all mail to a bounced contact or a hard-bounced address', async () => {
      const bounced = await contact({ status: 'bounced' });
      await expect(check(bounced.contactId, 'operational')).resolves.toEqual({
        allowed: false,
        reason: 'contact_bounced',
      });
      const hard = await contact();
      await q(
        `INSERT INTO suppressions (email, reason, source, created_at) VALUES ($1, 'hard_bounce', 'test', now())`,
        [hard.email],
      );
      await expect(check(hard.contactId, 'operational')).resolves.toEqual({
        allowed: false,
        reason: 'suppressed:hard_bounce',
      });
    });

    it('refuses advertising mail to a suppressed address (any reason), operational still allowed', async () => {
      const c = await contact();
      await q(
        `INSERT INTO suppressions (email, reason, source, created_at) VALUES ($1, 'unsubscribed', 'test', now())`,
        [c.email],
      );
      await expect(check(c.contactId, 'advertising')).resolves.toEqual({
        allowed: false,
        reason: 'suppressed:unsubscribed',
      });
      await expect(check(c.contactId, 'operational')).resolves.toEqual({ allowed: true });
    });

    it('refuses advertising mail on an unsubscribed topic only, and works inside a transaction', async () => {
      const c = await contact();
      await q(
        `INSERT INTO contact_preferences (contact_id, topic, subscribed, updated_at) VALUES ($1, 'events', false, now())`,
        [c.contactId],
      );
      await t.db.dataSource.transaction(async (manager) => {
        await expect(policy.check(manager, c.contactId, 'advertising', 'events')).resolves.toEqual({
          allowed: false,
          reason: 'topic_unsubscribed:events',
        });
        await expect(policy.check(manager, c.contactId, 'advertising', 'product_tips')).resolves.toEqual({
          allowed: true,
        });
      });
    });

    it('refuses an unknown contact', async () => {
      await expect(check(randomUUID(), 'operational')).resolves.toEqual({
        allowed: false,
        reason: 'contact_not_found',
      });
    });
  });

  describe('unsubscribe URL', () => {
    const expectPageHeaders = (headers: Record<string, unknown>) => {
      expect(headers['cache-control']).toBe('no-store');
      expect(headers['referrer-policy']).toBe('no-referrer');
      expect(headers['content-type']).toBe('text/html; charset=utf-8');
      expect(headers.location).toBeUndefined();
    };

    it('GET shows a Japanese confirmation page that POSTs to the same URL and changes nothing', async () => {
      const c = await contact({ locale: 'ja' });
      const token = signer.sign({ k: 'u', m: await message(c) });
      const response = await t.app.inject({ method: 'GET', url: `/u/${token}` });
      expect(response.statusCode).toBe(200);
      expectPageHeaders(response.headers);
      expect(response.body).toContain('<html lang="ja">');
      expect(response.body).toContain('配信を停止する');
      expect(response.body).toContain(`<form method="post" action="./${token}">`);
      expect(response.body).toContain(`p***@example.jp`);
      expect(response.body).not.toContain(c.email);
      expect(await suppression(c.email)).toBeUndefined();
      expect(await eventsOf(c.contactId)).toEqual([]);
    });

    it('falls back to the account locale, then the default', async () => {
      const c = await contact();
      await q(`UPDATE accounts SET locale = 'en' WHERE id = $1`, [c.accountId]);
      const token = signer.sign({ k: 'u', m: await message(c) });
      const response = await t.app.inject({ method: 'GET', url: `/u/${token}` });
      expect(response.body).toContain('<html lang="en">');
      expect(response.body).toContain('Unsubscribe');
    });

    it('one-click POST (urlencoded) answers 200 without redirect, suppresses once, and repeating changes nothing', async () => {
      const c = await contact();
      const token = signer.sign({ k: 'u', m: await message(c) });
      const post = () =>
        t.app.inject({
          method: 'POST',
          url: `/u/${token}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'List-Unsubscribe=One-Click',
        });
      const first = await post();
      expect(first.statusCode).toBe(200);
      expectPageHeaders(first.headers);
      expect(first.body).not.toContain(c.email);
      const stored = await suppression(c.email);
      expect(stored).toMatchObject({ reason: 'unsubscribed', source: 'one_click' });
      t.clock.advance(60_000);
      const second = await post();
      expect(second.statusCode).toBe(200);
      expect(await suppression(c.email)).toEqual(stored);
      const events = await eventsOf(c.contactId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'email.unsubscribed', props: { method: 'one_click' } });
      await expect(check(c.contactId, 'advertising')).resolves.toEqual({
        allowed: false,
        reason: 'suppressed:unsubscribed',
      });
    });

    it('one-click POST accepts multipart/form-data, an empty body and other types', async () => {
      for (const request of [
        {
          'content-type': 'multipart/form-data; boundary=XyZ',
          payload: '--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n',
        },
        { 'content-type': undefined, payload: undefined },
        { 'content-type': 'text/plain', payload: 'List-Unsubscribe=One-Click' },
        { 'content-type': 'application/json', payload: '{not json' },
      ]) {
        const c = await contact();
        const token = signer.sign({ k: 'u', m: await message(c) });
        const response = await t.app.inject({
          method: 'POST',
          url: `/u/${token}`,
          headers: request['content-type'] ? { 'content-type': request['content-type'] } : {},
          ...(request.payload === undefined ? {} : { payload: request.payload }),
        });
        expect(response.statusCode).toBe(200);
        expect(response.headers.location).toBeUndefined();
        expect(await suppression(c.email)).toMatchObject({ reason: 'unsubscribed' });
      }
    });

    it('tampered, foreign, garbage and wrong-kind tokens answer the neutral 404 and record nothing', async () => {
      const c = await contact();
      const messageId = await message(c);
      const token = signer.sign({ k: 'u', m: messageId });
      const tampered = token.slice(0, -2) + (token.endsWith('A') ? 'BA' : 'AA');
      const foreign = new TrackingTokenSigner({
        keys: [{ kid: 'k1', secret: 'z'.repeat(40), retiredAt: null }],
        gracePeriodMs: 0,
      }).sign({ k: 'u', m: messageId });
      const unknownMessage = signer.sign({ k: 'u', m: randomUUID() });
      for (const bad of [tampered, foreign, 'garbage', signer.sign({ k: 'o', m: messageId }), unknownMessage]) {
        for (const [method, url] of [
          ['GET', `/u/${bad}`],
          ['POST', `/u/${bad}`],
          ['GET', `/u/${bad}/preferences`],
          ['POST', `/u/${bad}/preferences`],
        ] as const) {
          const response = await t.app.inject({
            method,
            url,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: method === 'POST' ? 'save=1' : undefined,
          });
          expect(response.statusCode).toBe(404);
          expect(response.body).toContain('This link is not available');
        }
      }
      expect(await suppression(c.email)).toBeUndefined();
      expect(await q(`SELECT * FROM contact_preferences WHERE contact_id = $1`, [c.contactId])).toEqual([]);
      expect(await eventsOf(c.contactId)).toEqual([]);
    });

    it('preferences page lists known and own topics and saves unticked topics as unsubscribed', async () => {
      const c = await contact({ locale: 'en' });
      const messageId = await message(c);
      await q(`UPDATE messages SET topic = 'webinar_series' WHERE id = $1`, [messageId]);
      const token = signer.sign({ k: 'u', m: messageId });
      const page = await t.app.inject({ method: 'GET', url: `/u/${token}/preferences` });
      expect(page.statusCode).toBe(200);
      expectPageHeaders(page.headers);
      for (const topic of ['product_tips', 'events', 'renewal', 'webinar_series']) {
        expect(page.body).toContain(`value="${topic}" checked`);
      }
      expect(page.body).not.toContain(c.email);

      const saved = await t.app.inject({
        method: 'POST',
        url: `/u/${token}/preferences`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'save=1&topics=product_tips&topics=renewal',
      });
      expect(saved.statusCode).toBe(200);
      expectPageHeaders(saved.headers);
      expect(saved.body).toContain('Your preferences have been saved.');
      expect(saved.body).toContain('value="product_tips" checked');
      expect(saved.body).toContain('value="events">');
      const prefs = await q<{ topic: string; subscribed: boolean }>(
        `SELECT topic, subscribed FROM contact_preferences WHERE contact_id = $1 ORDER BY topic`,
        [c.contactId],
      );
      expect(prefs).toEqual([
        { topic: 'events', subscribed: false },
        { topic: 'webinar_series', subscribed: false },
      ]);
      await expect(check(c.contactId, 'advertising', 'events')).resolves.toEqual({
        allowed: false,
        reason: 'topic_unsubscribed:events',
      });
      await expect(check(c.contactId, 'advertising', 'product_tips')).resolves.toEqual({ allowed: true });
      expect(await suppression(c.email)).toBeUndefined();

      const resubscribed = await t.app.inject({
        method: 'POST',
        url: `/u/${token}/preferences`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'save=1&topics=product_tips&topics=renewal&topics=events&topics=webinar_series',
      });
      expect(resubscribed.statusCode).toBe(200);
      await expect(check(c.contactId, 'advertising', 'events')).resolves.toEqual({ allowed: true });
    });

    it('a preferences POST that is not the form changes nothing', async () => {
      const c = await contact();
      const token = signer.sign({ k: 'u', m: await message(c) });
      const response = await t.app.inject({
        method: 'POST',
        url: `/u/${token}/preferences`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'topics=events',
      });
      expect(response.statusCode).toBe(400);
      expect(await q(`SELECT * FROM contact_preferences WHERE contact_id = $1`, [c.contactId])).toEqual([]);
    });
  });

  describe('suppression admin API', () => {
    it('adds (idempotently), lists with a cursor and removes by body; addresses never in URLs', async () => {
      const added = await t.api('POST', '/api/suppressions', {
        email: ' Manual.One@Example.JP ',
        reason: 'manual',
        note: 'asked by phone',
      });
      expect(added.status).toBe(201);
      expect(added.json()).toMatchObject({ email: 'manual.one@example.jp', reason: 'manual', source: 'admin_api' });
      const again = await t.api('POST', '/api/suppressions', { email: 'manual.one@example.jp', reason: 'manual' });
      expect(again.status).toBe(200);
      expect(again.json()).toMatchObject({ note: 'asked by phone' });
      await t.api('POST', '/api/suppressions', { email: 'manual.two@example.jp', reason: 'manual' });

      const first = await t.api('GET', '/api/suppressions?limit=1');
      expect(first.status).toBe(200);
      const page1 = first.json() as { items: { email: string }[]; nextCursor: string | null };
      expect(page1.items).toHaveLength(1);
      expect(page1.nextCursor).not.toBeNull();
      // The list is keyed by address, and the cursor does not show it, even decoded.
      expect(Buffer.from(page1.nextCursor!, 'base64url').toString('latin1')).not.toContain('example.jp');
      const forged = Buffer.from(JSON.stringify([page1.items[0]!.email])).toString('base64url');
      expect((await t.api('GET', `/api/suppressions?limit=1&cursor=${forged}`)).status).toBe(400);
      const second = (await t.api('GET', `/api/suppressions?limit=1&cursor=${page1.nextCursor}`)).json() as {
        items: { email: string }[];
      };
      expect(second.items[0]!.email > page1.items[0]!.email).toBe(true);

      const removed = await t.api('POST', '/api/suppressions/remove', { email: 'MANUAL.ONE@example.jp' });
      expect(removed.status).toBe(204);
      expect(await suppression('manual.one@example.jp')).toBeUndefined();
      expect((await t.api('POST', '/api/suppressions/remove', { email: 'manual.one@example.jp' })).status).toBe(404);
    });

    it('rejects bad bodies with field paths and requests without the API key', async () => {
      const bad = await t.api('POST', '/api/suppressions', { email: 'nope', reason: 'hard_bounce', extra: 1 });
      expect(bad.status).toBe(400);
      const paths = (bad.json() as { issues: { path: string }[] }).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['email', 'reason', 'extra']));
      expect((await t.api('GET', '/api/suppressions', undefined, { 'x-api-key': 'wrong' })).status).toBe(401);
    });
  });

  describe('SendGrid event webhook', () => {
    const timestamp = () => String(Math.floor(t.clock.now().getTime() / 1000));
    const signed = (raw: string, ts = timestamp()) => ({
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-timestamp': ts,
      'x-twilio-email-event-webhook-signature': sign(
        'sha256',
        Buffer.concat([Buffer.from(ts), Buffer.from(raw)]),
        privateKey,
      ).toString('base64'),
    });
    const deliver = (raw: string, headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/webhooks/sendgrid', headers, payload: raw });
    const post = (events: unknown[]) => {
      const raw = JSON.stringify(events);
      return deliver(raw, signed(raw));
    };
    const providerEvents = (ids: string[]) =>
      q<{ provider_event_id: string; message_id: string | null }>(
        `SELECT provider_event_id, message_id FROM provider_events WHERE provider_event_id = ANY($1::text[])`,
        [ids],
      );
    const status = async (id: string) =>
      (
        await q<{ status: string; delivered_at: Date | null }>(
          `SELECT status, delivered_at FROM messages WHERE id = $1`,
          [id],
        )
      )[0]!;
    const ev = (id: string, fields: Record<string, unknown>) => ({
      sg_event_id: `${id}-${randomUUID()}`,
      timestamp: Math.floor(t.clock.now().getTime() / 1000) - 60,
      ...fields,
    });

    it('accepts a validly signed batch, stores it and moves the message to delivered', async () => {
      const c = await contact();
      const messageId = await message(c);
      const delivered = ev('d', {
        event: 'delivered',
        email: c.email,
        sg_message_id: 'pm1.filter',
        tend_message_id: messageId,
      });
      const response = await post([delivered]);
      expect(response.statusCode).toBe(200);
      expect(await providerEvents([delivered.sg_event_id])).toEqual([
        { provider_event_id: delivered.sg_event_id, message_id: messageId },
      ]);
      const row = await status(messageId);
      expect(row.status).toBe('delivered');
      expect(row.delivered_at).toEqual(new Date(delivered.timestamp * 1000));
      expect(await eventsOf(c.contactId)).toEqual([
        expect.objectContaining({
          type: 'email.delivered',
          source: 'provider',
          idempotency_key: delivered.sg_event_id,
        }),
      ]);
    });

    it('refuses tampered, re-serialised, unsigned and stale bodies with 401 and stores nothing', async () => {
      const c = await contact();
      const messageId = await message(c);
      const bounce = ev('b', { event: 'bounce', type: 'bounce', email: c.email, tend_message_id: messageId });
      const raw = JSON.stringify([bounce]);
      const headers = signed(raw);
      const tampered = raw.replace('"bounce"', '"bounce" ');
      const reserialised = JSON.stringify(JSON.parse(raw), null, 2);
      const { 'x-twilio-email-event-webhook-signature': _omit, ...unsigned } = headers;
      const staleTs = String(Math.floor(t.clock.now().getTime() / 1000) - 11 * 60);
      for (const [body, h] of [
        [tampered, headers],
        [reserialised, headers],
        [raw, unsigned],
        [raw, signed(raw, staleTs)],
        [raw, { ...headers, 'x-twilio-email-event-webhook-signature': 'garbage' }],
      ] as const) {
        const response = await deliver(body, h);
        expect(response.statusCode).toBe(401);
      }
      expect(await providerEvents([bounce.sg_event_id])).toEqual([]);
      expect(await suppression(c.email)).toBeUndefined();
      expect((await status(messageId)).status).toBe('sent');
      expect(await eventsOf(c.contactId)).toEqual([]);
    });

    it('stores the same sg_event_id once when delivered 5 times, answering 2xx each time', async () => {
      const c = await contact();
      const messageId = await message(c);
      const open = ev('o', { event: 'open', email: c.email, tend_message_id: messageId });
      for (let i = 0; i < 5; i += 1) {
        const response = await post([open, open]);
        expect(response.statusCode).toBe(200);
      }
      expect(await providerEvents([open.sg_event_id])).toHaveLength(1);
      expect((await eventsOf(c.contactId)).filter((e) => e.type === 'email.opened')).toHaveLength(1);
    });

    it('keeps bounced when delivered arrives after the bounce; suppresses and marks the contact bounced', async () => {
      const c = await contact();
      const messageId = await message(c);
      expect(
        (await post([ev('b', { event: 'bounce', type: 'bounce', email: c.email, tend_message_id: messageId })]))
          .statusCode,
      ).toBe(200);
      expect(
        (await post([ev('d', { event: 'delivered', email: c.email, tend_message_id: messageId })])).statusCode,
      ).toBe(200);
      expect((await status(messageId)).status).toBe('bounced');
      expect(await suppression(c.email)).toMatchObject({ reason: 'hard_bounce', source: 'sendgrid' });
      expect((await q<{ status: string }>(`SELECT status FROM contacts WHERE id = $1`, [c.contactId]))[0]!.status).toBe(
        'bounced',
      );
      await expect(check(c.contactId, 'operational')).resolves.toEqual({
        allowed: false,
        reason: 'suppressed:hard_bounce',
      });
    });

    it('matches an asynchronous bounce without sg_message_id by tend_message_id', async () => {
      const c = await contact();
      const messageId = await message(c);
      await post([
        ev('d', { event: 'delivered', email: c.email, sg_message_id: 'x1.filter', tend_message_id: messageId }),
      ]);
      const asyncBounce = ev('ab', { event: 'bounce', type: 'bounce', email: c.email, tend_message_id: messageId });
      expect((await post([asyncBounce])).statusCode).toBe(200);
      expect(await providerEvents([asyncBounce.sg_event_id])).toEqual([
        { provider_event_id: asyncBounce.sg_event_id, message_id: messageId },
      ]);
      expect((await status(messageId)).status).toBe('bounced');
    });

    it('a blocked bounce does not suppress; a spam report suppresses as spam_complaint; unsubscribe as unsubscribed', async () => {
      const blocked = await contact();
      const spam = await contact();
      const unsub = await contact();
      const [mb, ms, mu] = [await message(blocked), await message(spam), await message(unsub)];
      const response = await post([
        ev('bl', { event: 'bounce', type: 'blocked', email: blocked.email, tend_message_id: mb }),
        ev('sp', { event: 'spamreport', email: spam.email, tend_message_id: ms }),
        ev('un', { event: 'group_unsubscribe', email: unsub.email, tend_message_id: mu }),
      ]);
      expect(response.statusCode).toBe(200);
      expect(await suppression(blocked.email)).toBeUndefined();
      expect(await suppression(spam.email)).toMatchObject({ reason: 'spam_complaint' });
      expect((await status(ms)).status).toBe('complained');
      expect(await suppression(unsub.email)).toMatchObject({ reason: 'unsubscribed' });
      await expect(check(spam.contactId, 'advertising')).resolves.toEqual({
        allowed: false,
        reason: 'suppressed:spam_complaint',
      });
    });

    it('records machine opens and human clicks on the timeline', async () => {
      const c = await contact();
      const messageId = await message(c);
      await post([
        ev('mo', { event: 'open', sg_machine_open: true, email: c.email, tend_message_id: messageId }),
        ev('cl', { event: 'click', url: 'https://docs.example/x', email: c.email, tend_message_id: messageId }),
      ]);
      const events = await eventsOf(c.contactId);
      expect(events.find((e) => e.type === 'email.opened')?.props).toMatchObject({
        classification: 'machine',
        messageId,
      });
      expect(events.find((e) => e.type === 'email.clicked')?.props).toMatchObject({
        classification: 'human',
        url: 'https://docs.example/x',
      });
      expect(JSON.stringify(events)).not.toContain(c.email);
    });

    it('answers 400 to a signed body that is not an array of events', async () => {
      const raw = '{"event":"open"}';
      expect((await deliver(raw, signed(raw))).statusCode).toBe(400);
    });
  });
});
