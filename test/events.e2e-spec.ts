import { randomUUID } from 'node:crypto';
import { EventsRepository, type TimelineSubject, timelineQuery } from '../src/events/events.repository';
import { generateUsageEventsBatch, type UsageEventBody } from './support/generate-events';
import { createTestApp, type TestApp } from './support/test-app';

interface IngestBody {
  accepted: number;
  duplicates: number;
  rejected: { index: number; path: string; message: string }[];
}
interface ErrorBody {
  error: string;
  message: string;
  issues?: { path: string; message: string }[];
}
interface TimelineItem {
  id: string;
  type: string;
  occurredAt: string;
  receivedAt: string;
  source: string;
  accountExternalId: string | null;
  contactExternalId: string | null;
  visitorId: string | null;
  props: Record<string, unknown>;
}
interface TimelinePage {
  items: TimelineItem[];
  nextCursor: string | null;
}

describe('product-usage events: ingest and timelines', () => {
  let t: TestApp;
  const contactsByAccount = { acme: ['c-1', 'c-2'], globex: ['g-1'] };

  beforeAll(async () => {
    t = await createTestApp();
    for (const externalId of ['acme', 'globex', 'tl']) {
      expect((await t.api('POST', '/api/accounts', { externalId, name: externalId })).status).toBe(201);
    }
    const contacts = [
      ['c-1', 'acme'],
      ['c-2', 'acme'],
      ['g-1', 'globex'],
      ['tl-1', 'tl'],
      ['tl-2', 'tl'],
    ] as const;
    for (const [externalId, accountExternalId] of contacts) {
      const created = await t.api('POST', '/api/contacts', {
        externalId,
        accountExternalId,
        email: `${externalId}@example.jp`,
      });
      expect(created.status).toBe(201);
    }
  });
  afterAll(async () => {
    await t.close();
  });

  async function countEvents(where = 'true'): Promise<number> {
    const rows: { n: number }[] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE ${where}`);
    return rows[0]!.n;
  }

  function event(overrides: Partial<UsageEventBody> & { id: string }): UsageEventBody {
    return { type: 'login', occurredAt: '2026-10-31T09:00:00+09:00', accountExternalId: 'acme', ...overrides };
  }

  async function post(body: unknown): Promise<{ status: number; json: () => unknown }> {
    return t.api('POST', '/api/events', body);
  }

  function issuePaths(body: unknown): string[] {
    return ((body as ErrorBody).issues ?? []).map((i) => i.path);
  }

  describe('POST /api/events', () => {
    it('requires the API key', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/events',
        payload: { events: [event({ id: 'x' })] },
      });
      expect(response.statusCode).toBe(401);
      expect(await countEvents()).toBe(0);
      // The key is checked before the body is read: a keyless body over the limit is a 401, not a 413.
      const big = await t.app.inject({
        method: 'POST',
        url: '/api/events',
        headers: { 'content-type': 'application/json', 'x-api-key': 'wrong' },
        payload: `{"events":[${'"x",'.repeat(1_000_000)}"x"]}`,
      });
      expect(big.statusCode).toBe(401);
      expect(big.json<{ error: string; message: string }>()).toMatchObject({ error: 'unauthorized' });
      expect(big.json<{ message: string }>().message).toContain('x-api-key');
    });

    it('stores a batch of 1,000 and counts it', async () => {
      const batch = generateUsageEventsBatch(0, 1000, ['acme', 'globex'], { now: t.clock.now(), contactsByAccount });
      expect(Buffer.byteLength(JSON.stringify(batch))).toBeLessThan(t.config.http.jsonBodyLimitBytes);
      const response = await post(batch);
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({ accepted: 1000, duplicates: 0, rejected: [] });
      expect(await countEvents()).toBe(1000);
      expect(await countEvents(`source = 'api' AND received_at = '${t.clock.now().toISOString()}'`)).toBe(1000);
      expect(await countEvents(`contact_id IS NOT NULL`)).toBe(1000);
    });

    it('stores occurredAt as the instant its offset names, to the microsecond', async () => {
      const response = await post({
        events: [
          event({ id: 'tz-1', occurredAt: '2026-10-31T09:00:00.123456+05:30' }),
          event({ id: 'tz-2', occurredAt: '2026-10-30T23:59:59-08:00' }),
          event({ id: 'tz-3', occurredAt: '2026-10-31T00:00:00.5Z' }),
          // Valid ISO 8601 that PostgreSQL would refuse as written: normalized, not a 500.
          event({ id: 'tz-4', occurredAt: '2026-10-31T16:00:00+16:00' }),
          event({ id: 'tz-5', occurredAt: `2026-10-31T00:00:00.${'1'.repeat(130)}Z` }),
        ],
      });
      expect(response.status).toBe(200);
      const rows: { key: string; at: string }[] = await t.db.dataSource.query(
        `SELECT idempotency_key AS key, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at
           FROM events WHERE idempotency_key LIKE 'tz-%' ORDER BY idempotency_key`,
      );
      expect(rows).toEqual([
        { key: 'tz-1', at: '2026-10-31T03:30:00.123456' },
        { key: 'tz-2', at: '2026-10-31T07:59:59.000000' },
        { key: 'tz-3', at: '2026-10-31T00:00:00.500000' },
        { key: 'tz-4', at: '2026-10-31T00:00:00.000000' },
        { key: 'tz-5', at: '2026-10-31T00:00:00.111000' },
      ]);
      await t.db.dataSource.query(`DELETE FROM events WHERE idempotency_key LIKE 'tz-%'`);
    });

    it('reports the same batch again as 1,000 duplicates and stores nothing', async () => {
      const batch = generateUsageEventsBatch(0, 1000, ['acme', 'globex'], { now: t.clock.now(), contactsByAccount });
      const response = await post(batch);
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({ accepted: 0, duplicates: 1000, rejected: [] });
      expect(await countEvents()).toBe(1000);
    });

    it('stores overlapping batches sent at the same time exactly once', async () => {
      const batch = generateUsageEventsBatch(1, 500, ['acme', 'globex'], { now: t.clock.now() });
      const reversed = { events: [...batch.events].reverse() };
      const [a, b] = await Promise.all([post(batch), post(reversed)]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const results = [a.json() as IngestBody, b.json() as IngestBody];
      expect(results[0]!.accepted + results[1]!.accepted).toBe(500);
      expect(results[0]!.duplicates + results[1]!.duplicates).toBe(500);
      expect(await countEvents()).toBe(1500);
    });

    it('rejects events naming unknown accounts or contacts and stores the rest', async () => {
      const before = await countEvents();
      const response = await post({
        events: [
          event({ id: 'mix-0', contactExternalId: 'c-1', props: { feature: 'exports' } }),
          event({ id: 'mix-1', accountExternalId: 'nope' }),
          event({ id: 'mix-2', accountExternalId: 'globex' }),
          event({ id: 'mix-3', contactExternalId: 'g-1' }),
          event({ id: 'mix-4', contactExternalId: 'ghost' }),
          event({ id: 'mix-0', type: 'feature_used' }),
        ],
      });
      expect(response.status).toBe(200);
      const body = response.json() as IngestBody;
      expect(body).toMatchObject({ accepted: 2, duplicates: 1 });
      expect(body.rejected).toEqual([
        { index: 1, path: 'events.1.accountExternalId', message: expect.stringContaining('nope') as string },
        { index: 3, path: 'events.3.contactExternalId', message: expect.stringContaining('another account') as string },
        { index: 4, path: 'events.4.contactExternalId', message: expect.stringContaining('ghost') as string },
      ]);
      expect(await countEvents()).toBe(before + 2);
      expect(await countEvents(`idempotency_key = 'mix-0' AND type = 'login'`)).toBe(1);
    });

    it('refuses more than 1,000 events, and an empty batch, naming the path events', async () => {
      const before = await countEvents();
      const tooMany = generateUsageEventsBatch(2, 1001, ['acme'], { now: t.clock.now() });
      const response = await post(tooMany);
      expect(response.status).toBe(400);
      expect((response.json() as ErrorBody).issues).toEqual([
        { path: 'events', message: expect.stringContaining('1000') as string },
      ]);
      expect(issuePaths((await post({ events: [] })).json())).toEqual(['events']);
      expect(issuePaths((await post({})).json())).toEqual(['events']);
      expect((await post([event({ id: 'x' })])).status).toBe(400);
      expect(await countEvents()).toBe(before);
    });

    it('refuses props that are too deep, too big or have too many keys, naming each path', async () => {
      const before = await countEvents();
      const manyKeys = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
      const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'x'.repeat(1000)]));
      const response = await post({
        events: [
          event({ id: 'p-0', props: { ok: true } }),
          { ...event({ id: 'p-1' }), props: { a: { b: { c: { d: 1 } } } } },
          event({ id: 'p-2', props: big }),
          event({ id: 'p-3', props: manyKeys }),
          event({ id: 'p-4', props: { s: 'y'.repeat(1001) } }),
          { ...event({ id: 'p-5' }), props: ['not', 'an', 'object'] },
          { ...event({ id: 'p-6' }), props: { nul: 'a\u0000b' } },
        ],
      });
      expect(response.status).toBe(400);
      const issues = (response.json() as ErrorBody).issues!;
      expect(issues.map((i) => i.path)).toEqual([
        'events.1.props.a.b.c',
        'events.2.props',
        'events.3.props',
        'events.4.props.s',
        'events.5.props',
        'events.6.props.nul',
      ]);
      expect(issues[0]!.message).toContain('at most 3 levels');
      expect(issues[1]!.message).toContain('8192 bytes');
      expect(issues[2]!.message).toContain('at most 50 keys');
      expect(issues[3]!.message).toContain('1000 characters');
      expect(await countEvents()).toBe(before);
    });

    it('refuses reserved and malformed event types, unknown fields and bad ids', async () => {
      const response = await post({
        events: [
          event({ id: 'ty-0', type: 'email.opened' }),
          event({ id: 'ty-1', type: 'site.page_view' }),
          event({ id: 'ty-2', type: 'Login' }),
          event({ id: 'ty-3', type: 'a'.repeat(65) }),
          { ...event({ id: 'ty-4' }), colour: 'blue' },
          event({ id: '' }),
          event({ id: 'has space' }),
          { type: 'login', occurredAt: '2026-10-31T09:00:00Z' },
        ],
      });
      expect(response.status).toBe(400);
      const body = response.json() as ErrorBody;
      expect(issuePaths(body)).toEqual(
        expect.arrayContaining([
          'events.0.type',
          'events.1.type',
          'events.2.type',
          'events.3.type',
          'events.4.colour',
          'events.5.id',
          'events.6.id',
          'events.7.id',
          'events.7.accountExternalId',
        ]),
      );
      expect(body.issues!.find((i) => i.path === 'events.0.type')!.message).toContain('reserved');
      expect(JSON.stringify(body)).toContain('colour');
    });

    it('refuses occurredAt in the future, too old, or without an offset', async () => {
      const now = t.clock.now().getTime();
      const iso = (ms: number) => new Date(ms).toISOString();
      const response = await post({
        events: [
          event({ id: 't-0', occurredAt: iso(now + 4 * 60_000) }),
          event({ id: 't-1', occurredAt: iso(now + 6 * 60_000) }),
          event({ id: 't-2', occurredAt: iso(now - 401 * 86_400_000) }),
          event({ id: 't-3', occurredAt: '2026-10-31T09:00:00' }),
          event({ id: 't-4', occurredAt: 'yesterday' }),
        ],
      });
      expect(response.status).toBe(400);
      const issues = (response.json() as ErrorBody).issues!;
      expect(issues.map((i) => i.path).sort()).toEqual([
        'events.1.occurredAt',
        'events.2.occurredAt',
        'events.3.occurredAt',
        'events.4.occurredAt',
      ]);
      expect(issues.find((i) => i.path === 'events.1.occurredAt')!.message).toContain('future');
      const ok = await post({ events: [event({ id: 't-ok', occurredAt: iso(now + 4 * 60_000) })] });
      expect(ok.json()).toMatchObject({ accepted: 1 });
    });

    it('answers 415 for a body that is not JSON, the import formats included', async () => {
      for (const type of ['text/csv', 'application/x-ndjson', 'application/xml']) {
        const response = await t.api('POST', '/api/events', 'id,type\n1,login\n', { 'content-type': type });
        expect([type, response.status]).toEqual([type, 415]);
      }
    });

    it('answers 413 for a body over the JSON limit and 400 for absurdly deep JSON, and stays up', async () => {
      const huge = generateUsageEventsBatch(3, 1000, ['acme'], { now: t.clock.now() });
      for (const e of huge.events)
        e.props = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`k${i}`, 'x'.repeat(1000)]));
      const tooLarge = await post(huge);
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.json()).toMatchObject({ error: 'payload_too_large' });

      const depth = 100_000;
      const deepProps = `{"events":[{"id":"deep","type":"login","occurredAt":"2026-10-31T09:00:00Z","accountExternalId":"acme","props":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}]}`;
      const deep = await t.api('POST', '/api/events', deepProps, { 'content-type': 'application/json' });
      expect(deep.status).toBe(400);
      expect(issuePaths(deep.json())).toEqual(['events.0.props.a.0.0']);
      const deepEvents = `{"events":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const deep2 = await t.api('POST', '/api/events', deepEvents, { 'content-type': 'application/json' });
      expect(deep2.status).toBe(400);

      expect((await t.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    });
  });

  describe('timelines', () => {
    it('reads a page through indexes, never by scanning the whole log', async () => {
      const subjects: TimelineSubject[] = [
        { kind: 'account', id: randomUUID() },
        { kind: 'contact', id: randomUUID() },
      ];
      for (const subject of subjects) {
        const { text, params } = timelineQuery(subject, {
          order: 'desc',
          limit: 50,
          types: undefined,
          since: undefined,
          until: undefined,
          after: undefined,
        });
        // With sequential scans priced out, a plan still holding one has no index path at all.
        const plan = await t.db.dataSource.transaction(async (m) => {
          await m.query('SET LOCAL enable_seqscan = off');
          const rows: Record<string, string>[] = await m.query(`EXPLAIN ${text}`, params);
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
        expect([subject.kind, plan]).toEqual([subject.kind, expect.not.stringMatching(/Seq Scan on events/)]);
      }
    });

    // 5 instants x 5 events: several events share each occurredAt.
    const base = Date.parse('2026-10-20T00:00:00Z');
    let all: TimelineItem[];

    beforeAll(async () => {
      const events: UsageEventBody[] = [];
      for (let instant = 0; instant < 5; instant++) {
        for (let k = 0; k < 5; k++) {
          const n = instant * 5 + k;
          events.push({
            id: `tl-${n}`,
            type: n % 3 === 0 ? 'feature_used' : 'login',
            occurredAt: new Date(base + instant * 3_600_000 + 9 * 3_600_000).toISOString().replace('Z', '+09:00'),
            accountExternalId: 'tl',
            ...(k % 2 === 0 ? { contactExternalId: k === 0 ? 'tl-2' : 'tl-1' } : {}),
            props: { n },
          });
        }
      }
      // Interleave so storage order differs from time order.
      events.sort((a, b) => (Number(a.id.slice(3)) % 7) - (Number(b.id.slice(3)) % 7));
      expect((await post({ events })).json()).toMatchObject({ accepted: 25 });
      const page = (await t.api('GET', '/api/accounts/tl/timeline?limit=500')).json() as TimelinePage;
      all = page.items;
      expect(page.nextCursor).toBeNull();
    });

    function key(item: TimelineItem): [number, bigint] {
      return [Date.parse(item.occurredAt), BigInt(item.id)];
    }

    async function walk(url: string, limit: number): Promise<TimelineItem[]> {
      const seen: TimelineItem[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const sep = url.includes('?') ? '&' : '?';
        const response = await t.api('GET', `${url}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.status).toBe(200);
        const page = response.json() as TimelinePage;
        seen.push(...page.items);
        cursor = page.nextCursor;
        if (cursor === null) return seen;
      }
      throw new Error('pagination did not end');
    }

    it('lists an account newest first, ties broken by id', () => {
      expect(all).toHaveLength(25);
      for (let i = 1; i < all.length; i++) {
        const [prevAt, prevId] = key(all[i - 1]!);
        const [at, id] = key(all[i]!);
        expect(prevAt > at || (prevAt === at && prevId > id)).toBe(true);
      }
      const newest = all[0]!;
      expect(newest).toEqual({
        id: expect.any(String) as string,
        type: expect.any(String) as string,
        occurredAt: '2026-10-20T04:00:00.000Z',
        receivedAt: t.clock.now().toISOString(),
        source: 'api',
        accountExternalId: 'tl',
        contactExternalId: newest.contactExternalId,
        visitorId: null,
        props: { n: expect.any(Number) as number },
      });
      expect([null, 'tl-1', 'tl-2']).toContain(newest.contactExternalId);
    });

    it('lists oldest first with order=asc', async () => {
      const asc = (await t.api('GET', '/api/accounts/tl/timeline?order=asc&limit=500')).json() as TimelinePage;
      expect(asc.items.map((i) => i.id)).toEqual([...all].reverse().map((i) => i.id));
    });

    it('pages through ties with no duplicates or gaps, both ways', async () => {
      for (const limit of [1, 3, 4, 7]) {
        const desc = await walk('/api/accounts/tl/timeline', limit);
        expect(desc.map((i) => i.id)).toEqual(all.map((i) => i.id));
        const asc = await walk('/api/accounts/tl/timeline?order=asc', limit);
        expect(asc.map((i) => i.id)).toEqual([...all].reverse().map((i) => i.id));
      }
      const exact = (await t.api('GET', '/api/accounts/tl/timeline?limit=25')).json() as TimelinePage;
      expect(exact.nextCursor).toBeNull();
    });

    it('filters by type and by time', async () => {
      const logins = await walk('/api/accounts/tl/timeline?types=login', 4);
      expect(logins.length).toBeGreaterThan(0);
      expect(logins.map((i) => i.id)).toEqual(all.filter((i) => i.type === 'login').map((i) => i.id));
      const both = (
        await t.api('GET', '/api/accounts/tl/timeline?types=login,feature_used&limit=500')
      ).json() as TimelinePage;
      expect(both.items).toHaveLength(25);

      const since = '2026-10-20T10:00:00+09:00';
      const until = '2026-10-20T03:00:00Z';
      const window = (
        await t.api('GET', `/api/accounts/tl/timeline?since=${encodeURIComponent(since)}&until=${until}&limit=500`)
      ).json() as TimelinePage;
      expect(window.items.map((i) => i.occurredAt)).toEqual([
        ...Array<string>(5).fill('2026-10-20T02:00:00.000Z'),
        ...Array<string>(5).fill('2026-10-20T01:00:00.000Z'),
      ]);
      // An unencoded `+09:00` (read as a space) still means +09:00.
      const raw = (
        await t.api('GET', `/api/accounts/tl/timeline?since=${since}&until=${until}`)
      ).json() as TimelinePage;
      expect(raw.items).toEqual(window.items);
    });

    it('lists a contact timeline', async () => {
      const contact = await walk('/api/contacts/tl-1/timeline', 2);
      expect(contact.map((i) => i.id)).toEqual(all.filter((i) => i.contactExternalId === 'tl-1').map((i) => i.id));
      expect(contact).toHaveLength(10);
      expect(contact.every((i) => i.accountExternalId === 'tl')).toBe(true);
    });

    it('answers 404 for unknown accounts and contacts, 400 for bad queries', async () => {
      expect((await t.api('GET', '/api/accounts/nope/timeline')).status).toBe(404);
      expect((await t.api('GET', '/api/contacts/nope/timeline')).status).toBe(404);
      expect((await t.api('GET', '/api/accounts/a%00b/timeline')).status).toBe(400);
      for (const query of [
        'limit=0',
        'limit=501',
        'order=sideways',
        'cursor=garbage',
        'types=Bad',
        'since=yesterday',
        'colour=blue',
        'since=2026-10-20T03:00:00Z&until=2026-10-20T01:00:00Z',
        // JavaScript parses year 0; PostgreSQL does not.
        'since=0000-01-01T00:00:00Z',
      ]) {
        const response = await t.api('GET', `/api/accounts/tl/timeline?${query}`);
        expect([query, response.status]).toEqual([query, 400]);
      }
      for (const position of [
        ['not a time', 'x'],
        // Shaped like a cursor, but no real instant, or an id past bigint: a 400, not a 500.
        ['2026-13-45T99:99:99.000000Z', '1'],
        ['0000-01-01T00:00:00.000000Z', '1'],
        ['2026-01-01T00:00:00.000000Z', '9999999999999999999'],
      ]) {
        const forged = Buffer.from(JSON.stringify(position)).toString('base64url');
        const response = await t.api('GET', `/api/accounts/tl/timeline?cursor=${forged}`);
        expect([position, response.status]).toEqual([position, 400]);
      }
      expect((await t.app.inject({ method: 'GET', url: '/api/accounts/tl/timeline' })).statusCode).toBe(401);
      // The directory's own route still answers beside the timeline.
      expect((await t.api('GET', '/api/accounts/tl')).json()).toMatchObject({ externalId: 'tl' });
    });

    it('shows events other modules append in their own transaction, paging by exact (microsecond) times', async () => {
      const repository = t.app.get(EventsRepository);
      const rows: { id: string; account_id: string }[] = await t.db.dataSource.query(
        `SELECT c.id, c.account_id FROM contacts c WHERE c.external_id = 'tl-2'`,
      );
      const contact = rows[0]!;
      await t.db.dataSource.transaction(async (manager) => {
        const appended = await repository.appendEvents(manager, [
          {
            type: 'email.opened',
            occurredAt: new Date('2026-10-25T00:00:00Z'),
            receivedAt: t.clock.now(),
            accountId: contact.account_id,
            contactId: contact.id,
            visitorId: null,
            source: 'system',
            idempotencyKey: 'msg-1:open',
            props: { messageId: 'msg-1' },
          },
        ]);
        expect(appended).toBe(1);
      });
      // Two events within the same millisecond (written by SQL with microseconds).
      await t.db.dataSource.query(
        `INSERT INTO events (type, occurred_at, account_id, contact_id, source, idempotency_key)
         VALUES ('site.page_view', '2026-10-26T00:00:00.000200Z', $1, $2, 'tracking', 'us-2'),
                ('site.page_view', '2026-10-26T00:00:00.000100Z', $1, $2, 'tracking', 'us-1')`,
        [contact.account_id, contact.id],
      );
      const full = (await t.api('GET', '/api/contacts/tl-2/timeline?limit=500')).json() as TimelinePage;
      expect(full.items.slice(0, 3).map((i) => [i.type, i.source])).toEqual([
        ['site.page_view', 'tracking'],
        ['site.page_view', 'tracking'],
        ['email.opened', 'system'],
      ]);
      for (const order of ['desc', 'asc']) {
        const paged = await walk(`/api/contacts/tl-2/timeline?order=${order}`, 1);
        const expected = order === 'desc' ? full.items : [...full.items].reverse();
        expect(paged.map((i) => i.id)).toEqual(expected.map((i) => i.id));
      }
      const emails = (await t.api('GET', '/api/contacts/tl-2/timeline?types=email.opened')).json() as TimelinePage;
      expect(emails.items).toEqual([expect.objectContaining({ type: 'email.opened', props: { messageId: 'msg-1' } })]);
      // since and until are exact to the microsecond, as the stored times are.
      const between = (
        await t.api(
          'GET',
          '/api/contacts/tl-2/timeline?since=2026-10-26T00:00:00.000150Z&until=2026-10-26T00:00:00.000250Z',
        )
      ).json() as TimelinePage;
      expect(between.items.map((i) => i.occurredAt)).toEqual(['2026-10-26T00:00:00.000Z']);
      expect(between.items).toHaveLength(1);
    });
  });
});
