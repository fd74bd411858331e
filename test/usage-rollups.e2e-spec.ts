import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { backfillUsageRollups, UsageRollups1764400000000 } from '../migrations/1764400000000-usage-rollups';
import { DeferredUsageRollups1764800000000 } from '../migrations/1764800000000-deferred-usage-rollups';
import { UsageRollups } from '../src/metrics/usage-rollups.service';
import { TrackingRecorder } from '../src/tracking/tracking-recorder.service';
import { TrackingRetentionService } from '../src/tracking/tracking-retention.service';
import { TrackingRepository } from '../src/tracking/tracking.repository';
import type { UsageEventBody } from './support/generate-events';
import { createTestApp, type TestApp } from './support/test-app';

const SITE = 'https://www.rollups.example';

interface IngestBody {
  accepted: number;
  duplicates: number;
  rejected: unknown[];
}

interface StoredEvent {
  type: string;
  occurred_at: Date;
  account_id: string | null;
  contact_id: string | null;
  visitor_id: string | null;
  props: Record<string, unknown>;
}

/** Every rollup row, as sorted `key -> events` lines, so whole tables compare with toEqual. */
interface RollupSnapshot {
  account: string[];
  contact: string[];
  visitor: string[];
}

describe('daily usage rollups', () => {
  let t: TestApp;
  let recorder: TrackingRecorder;

  beforeAll(async () => {
    t = await createTestApp({ SITE_ORIGINS: SITE, TRACKING_RECORD_LIMIT_PER_MINUTE: '1000' });
    recorder = t.app.get(TrackingRecorder);
    // The tests fold when they read; the worker tick's per-second fold would race the "not yet folded" checks.
    const schedules = t.app.get(SchedulerRegistry);
    if (schedules.getIntervals().includes('scenario-runtime')) schedules.deleteInterval('scenario-runtime');
  });
  afterAll(async () => {
    await t.close();
  });

  /** Creates accounts, each with the given contacts (external ids `<account>-<contact>`). */
  async function createAccounts(accounts: readonly string[], contactsPerAccount = 2): Promise<void> {
    for (const externalId of accounts) {
      expect((await t.api('POST', '/api/accounts', { externalId, name: externalId })).status).toBe(201);
      for (let c = 1; c <= contactsPerAccount; c++) {
        const contact = {
          externalId: `${externalId}-${c}`,
          accountExternalId: externalId,
          email: `${externalId}-${c}@x.jp`,
        };
        expect((await t.api('POST', '/api/contacts', contact)).status).toBe(201);
      }
    }
  }

  async function ingest(events: UsageEventBody[]): Promise<IngestBody> {
    const response = await t.api('POST', '/api/events', { events });
    expect(response.status).toBe(200);
    return response.json() as IngestBody;
  }

  async function idOf(table: 'accounts' | 'contacts', externalId: string): Promise<string> {
    const rows: { id: string }[] = await t.db.dataSource.query(`SELECT id FROM ${table} WHERE external_id = $1`, [
      externalId,
    ]);
    return rows[0]!.id;
  }

  /** Folds the pending deltas (as the worker does every second). */
  const fold = (): Promise<number> => t.app.get(UsageRollups).fold();

  /** `day type events` lines of one account's rollup. */
  async function accountUsage(externalId: string): Promise<string[]> {
    await fold();
    const rows: { line: string }[] = await t.db.dataSource.query(
      `SELECT u.day::text || ' ' || u.type || ' ' || u.events AS line
         FROM account_daily_usage u JOIN accounts a ON a.id = u.account_id
        WHERE a.external_id = $1 ORDER BY u.day, u.type`,
      [externalId],
    );
    return rows.map((r) => r.line);
  }

  /** `account day type events` lines of one contact's rollup. */
  async function contactUsage(externalId: string): Promise<string[]> {
    await fold();
    const rows: { line: string }[] = await t.db.dataSource.query(
      `SELECT a.external_id || ' ' || u.day::text || ' ' || u.type || ' ' || u.events AS line
         FROM contact_daily_usage u JOIN contacts c ON c.id = u.contact_id JOIN accounts a ON a.id = u.account_id
        WHERE c.external_id = $1 ORDER BY u.day, u.type`,
      [externalId],
    );
    return rows.map((r) => r.line);
  }

  /** `day type section events` lines of one visitor's site rollup. */
  async function visitorUsage(visitorId: string): Promise<string[]> {
    await fold();
    const rows: { line: string }[] = await t.db.dataSource.query(
      `SELECT day::text || ' ' || type || ' ' || section || ' ' || events AS line
         FROM visitor_daily_site WHERE visitor_id = $1 ORDER BY day, type, section`,
      [visitorId],
    );
    return rows.map((r) => r.line);
  }

  async function snapshot(): Promise<RollupSnapshot> {
    await fold();
    const lines = async (sql: string) => (await t.db.dataSource.query<{ line: string }[]>(sql)).map((r) => r.line);
    return {
      account: await lines(
        `SELECT concat_ws(' ', account_id, day, type, events) AS line FROM account_daily_usage ORDER BY 1`,
      ),
      contact: await lines(
        `SELECT concat_ws(' ', contact_id, account_id, day, type, events) AS line FROM contact_daily_usage ORDER BY 1`,
      ),
      visitor: await lines(
        `SELECT concat_ws(' ', visitor_id, day, type, '[' || section || ']', events) AS line FROM visitor_daily_site ORDER BY 1`,
      ),
    };
  }

  /**
   * The rollups computed in TypeScript from the stored events, by the rules the trigger
   * implements in SQL: an independent check of the trigger and of the backfill.
   */
  async function expectedFromEvents(): Promise<RollupSnapshot> {
    const events: StoredEvent[] = await t.db.dataSource.query(
      'SELECT type, occurred_at, account_id, contact_id, visitor_id, props FROM events',
    );
    const contactAccounts = new Map(
      (await t.db.dataSource.query<{ id: string; account_id: string }[]>('SELECT id, account_id FROM contacts')).map(
        (c) => [c.id, c.account_id],
      ),
    );
    const account = new Map<string, number>();
    const contact = new Map<string, number>();
    const visitor = new Map<string, number>();
    const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    for (const e of events) {
      const day = e.occurred_at.toISOString().slice(0, 10);
      const classification = e.props.classification;
      const machine =
        (e.type === 'email.opened' || e.type === 'email.clicked') &&
        typeof classification === 'string' &&
        classification !== 'human';
      const type = machine ? `${e.type}.machine` : e.type;
      if (e.account_id !== null) add(account, `${e.account_id} ${day} ${type}`);
      if (e.contact_id !== null) {
        add(contact, `${e.contact_id} ${e.account_id ?? contactAccounts.get(e.contact_id)} ${day} ${type}`);
      }
      if (e.type.startsWith('site.') && e.visitor_id !== null && uuid.test(e.visitor_id)) {
        const path = typeof e.props.path === 'string' ? e.props.path : '';
        const section =
          e.type === 'site.page_viewed'
            ? Array.from(path.replace(/^\/+/, '').split('/')[0]!.toLowerCase()).slice(0, 64).join('')
            : '';
        add(visitor, `${e.visitor_id.toLowerCase()} ${day} ${e.type} [${section}]`);
      }
    }
    const lines = (map: Map<string, number>) =>
      [...map].map(([key, n]) => `${key} ${n}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { account: lines(account), contact: lines(contact), visitor: lines(visitor) };
  }

  /** Inserts events the way other modules do (email, site): straight into the log. */
  async function insertEvents(
    rows: {
      type: string;
      at: string;
      accountId?: string | null;
      contactId?: string | null;
      visitorId?: string | null;
      source?: string;
      props?: Record<string, unknown>;
    }[],
  ): Promise<void> {
    await t.db.dataSource.query(
      `INSERT INTO events (type, occurred_at, account_id, contact_id, visitor_id, source, idempotency_key, props)
       SELECT r.type, r.at, r."accountId", r."contactId", r."visitorId", coalesce(r.source, 'system'), r.key, coalesce(r.props, '{}')
         FROM json_to_recordset($1::json)
              AS r(type text, at timestamptz, "accountId" uuid, "contactId" uuid, "visitorId" text, source text, key text, props jsonb)`,
      [JSON.stringify(rows.map((r) => ({ ...r, key: randomUUID() })))],
    );
  }

  it('rolls up events ingested through the API per account, contact, day and type', async () => {
    await createAccounts(['ra', 'rb']);
    const body = await ingest([
      {
        id: 'r-1',
        type: 'login',
        occurredAt: '2026-10-30T10:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-1',
      },
      {
        id: 'r-2',
        type: 'login',
        occurredAt: '2026-10-30T11:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-1',
      },
      {
        id: 'r-3',
        type: 'login',
        occurredAt: '2026-10-30T12:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-2',
      },
      { id: 'r-4', type: 'login', occurredAt: '2026-10-30T13:00:00Z', accountExternalId: 'ra' },
      { id: 'r-5', type: 'feature_used', occurredAt: '2026-10-30T13:00:00Z', accountExternalId: 'ra' },
      {
        id: 'r-6',
        type: 'login',
        occurredAt: '2026-10-31T09:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-1',
      },
      {
        id: 'r-7',
        type: 'login',
        occurredAt: '2026-10-31T09:00:00Z',
        accountExternalId: 'rb',
        contactExternalId: 'rb-1',
      },
    ]);
    expect(body).toEqual({ accepted: 7, duplicates: 0, rejected: [] });
    expect(await accountUsage('ra')).toEqual(['2026-10-30 feature_used 1', '2026-10-30 login 4', '2026-10-31 login 1']);
    expect(await accountUsage('rb')).toEqual(['2026-10-31 login 1']);
    expect(await contactUsage('ra-1')).toEqual(['ra 2026-10-30 login 2', 'ra 2026-10-31 login 1']);
    expect(await contactUsage('ra-2')).toEqual(['ra 2026-10-30 login 1']);
    expect(await contactUsage('rb-1')).toEqual(['rb 2026-10-31 login 1']);
  });

  it('does not count a retried batch twice, and counts only the new events of a partly new batch', async () => {
    const again = await ingest([
      {
        id: 'r-1',
        type: 'login',
        occurredAt: '2026-10-30T10:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-1',
      },
      {
        id: 'r-2',
        type: 'login',
        occurredAt: '2026-10-30T11:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-1',
      },
    ]);
    expect(again).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    const partly = await ingest([
      {
        id: 'r-1',
        type: 'login',
        occurredAt: '2026-10-30T10:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-1',
      },
      {
        id: 'r-8',
        type: 'login',
        occurredAt: '2026-10-30T14:00:00Z',
        accountExternalId: 'ra',
        contactExternalId: 'ra-1',
      },
    ]);
    expect(partly).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    expect(await accountUsage('ra')).toEqual(['2026-10-30 feature_used 1', '2026-10-30 login 5', '2026-10-31 login 1']);
    expect(await contactUsage('ra-1')).toEqual(['ra 2026-10-30 login 3', 'ra 2026-10-31 login 1']);
  });

  it('puts each event on its UTC calendar day', async () => {
    await createAccounts(['rday'], 1);
    await ingest([
      // 23:30 in Tokyo is 14:30 UTC the same day; 08:30 in Tokyo is 23:30 UTC the day before.
      { id: 'd-1', type: 'login', occurredAt: '2026-10-31T23:30:00+09:00', accountExternalId: 'rday' },
      { id: 'd-2', type: 'login', occurredAt: '2026-10-31T08:30:00+09:00', accountExternalId: 'rday' },
      { id: 'd-3', type: 'login', occurredAt: '2026-10-29T23:59:59.999Z', accountExternalId: 'rday' },
      { id: 'd-4', type: 'login', occurredAt: '2026-10-30T00:00:00Z', accountExternalId: 'rday' },
      {
        id: 'd-5',
        type: 'login',
        occurredAt: '2026-10-30T15:00:00+09:00',
        contactExternalId: 'rday-1',
        accountExternalId: 'rday',
      },
      // 19:00 the day before in New York is already the next UTC day.
      {
        id: 'd-6',
        type: 'login',
        occurredAt: '2026-10-30T20:00:00-05:00',
        contactExternalId: 'rday-1',
        accountExternalId: 'rday',
      },
    ]);
    expect(await accountUsage('rday')).toEqual(['2026-10-29 login 1', '2026-10-30 login 3', '2026-10-31 login 2']);
    expect(await contactUsage('rday-1')).toEqual(['rday 2026-10-30 login 1', 'rday 2026-10-31 login 1']);
  });

  it('rolls up machine opens and clicks apart from human ones', async () => {
    await createAccounts(['rmail'], 1);
    const accountId = await idOf('accounts', 'rmail');
    const contactId = await idOf('contacts', 'rmail-1');
    const at = '2026-10-31T03:00:00Z';
    await insertEvents([
      { type: 'email.opened', at, accountId, contactId, source: 'tracking', props: { classification: 'human' } },
      { type: 'email.opened', at, accountId, contactId, source: 'tracking', props: { classification: 'human' } },
      { type: 'email.opened', at, accountId, contactId, source: 'tracking', props: { classification: 'machine' } },
      { type: 'email.opened', at, accountId, contactId, source: 'provider', props: {} },
      { type: 'email.clicked', at, accountId, contactId, source: 'tracking', props: { classification: 'bot' } },
      { type: 'email.clicked', at, accountId, contactId, source: 'tracking', props: { classification: 'human' } },
      { type: 'email.sent', at, accountId, contactId, props: { classification: 'machine' } },
      // No account on the event: the contact's account is used for the contact rollup.
      { type: 'email.opened', at, contactId, source: 'provider', props: { classification: 'machine' } },
    ]);
    expect(await accountUsage('rmail')).toEqual([
      '2026-10-31 email.clicked 1',
      '2026-10-31 email.clicked.machine 1',
      '2026-10-31 email.opened 3',
      '2026-10-31 email.opened.machine 1',
      '2026-10-31 email.sent 1',
    ]);
    expect(await contactUsage('rmail-1')).toEqual([
      'rmail 2026-10-31 email.clicked 1',
      'rmail 2026-10-31 email.clicked.machine 1',
      'rmail 2026-10-31 email.opened 3',
      'rmail 2026-10-31 email.opened.machine 2',
      'rmail 2026-10-31 email.sent 1',
    ]);
  });

  it('rolls up site events by visitor, day, type and section (first path segment)', async () => {
    const visitor = randomUUID();
    const send = async (path: string, type = 'page_view') => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/t/collect',
        headers: { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' },
        payload: JSON.stringify({ v: visitor, e: [{ id: randomUUID(), type, url: `${SITE}${path}` }] }),
      });
      expect(response.statusCode).toBe(204);
    };
    t.clock.set(new Date('2026-10-31T23:59:00Z'));
    await send('/pricing');
    await send('/Pricing/Enterprise?plan=x');
    await send('/');
    await send('/docs/api/v1');
    await send(`/${'a'.repeat(100)}/more`);
    await send('/webinars/1', 'webinar_signup');
    await recorder.flush();
    t.clock.set(new Date('2026-11-01T00:01:00Z'));
    await send('/pricing');
    await recorder.flush();
    t.clock.set(new Date('2026-11-01T00:00:00Z'));
    // Written by SQL: a bare path without a slash, no path at all, and visitor ids that are not uuids.
    await insertEvents([
      {
        type: 'site.page_viewed',
        at: '2026-10-31T12:00:00Z',
        visitorId: visitor,
        source: 'tracking',
        props: { path: 'Blog' },
      },
      { type: 'site.page_viewed', at: '2026-10-31T12:00:00Z', visitorId: visitor.toUpperCase(), source: 'tracking' },
      { type: 'site.page_viewed', at: '2026-10-31T12:00:00Z', visitorId: 'not-a-uuid', source: 'tracking' },
      { type: 'login', at: '2026-10-31T12:00:00Z', visitorId: visitor, source: 'tracking' },
    ]);
    expect(await visitorUsage(visitor)).toEqual([
      `2026-10-31 site.page_viewed  2`,
      `2026-10-31 site.page_viewed ${'a'.repeat(64)} 1`,
      '2026-10-31 site.page_viewed blog 1',
      '2026-10-31 site.page_viewed docs 1',
      '2026-10-31 site.page_viewed pricing 2',
      '2026-10-31 site.webinar_signup  1',
      '2026-11-01 site.page_viewed pricing 1',
    ]);
    const others: { n: number }[] = await t.db.dataSource.query(
      `SELECT count(*)::int AS n FROM visitor_daily_site WHERE visitor_id <> $1`,
      [visitor],
    );
    expect(others[0]!.n).toBe(0);
  });

  it('ends with exact totals when concurrent batches update the same rollup rows', async () => {
    const accounts = ['rc1', 'rc2', 'rc3'];
    await createAccounts(accounts);
    const types = ['login', 'feature_used', 'report_exported'];
    const days = ['2026-10-28', '2026-10-29', '2026-10-30'];
    // 8 batches of 162 events: every batch touches every (account, contact, type, day), in its own order.
    const batches = Array.from({ length: 8 }, (_, b) => {
      const events: UsageEventBody[] = [];
      for (const account of accounts)
        for (const contact of [1, 2])
          for (const type of types)
            for (const day of days)
              for (const hour of [1, 12, 23])
                events.push({
                  id: `cc-${b}-${events.length}`,
                  type,
                  occurredAt: `${day}T${String(hour).padStart(2, '0')}:00:00Z`,
                  accountExternalId: account,
                  contactExternalId: `${account}-${contact}`,
                });
      return b % 2 === 0 ? events.reverse() : events.sort((x, y) => (x.id.length % 3) - (y.id.length % 3));
    });
    const results = await Promise.all(batches.map((events) => ingest(events)));
    expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(8 * 162);
    for (const account of accounts) {
      expect(await accountUsage(account)).toEqual(
        days.flatMap((day) => [...types].sort().map((type) => `${day} ${type} ${8 * 2 * 3}`)),
      );
      for (const contact of [1, 2]) {
        expect(await contactUsage(`${account}-${contact}`)).toEqual(
          days.flatMap((day) => [...types].sort().map((type) => `${account} ${day} ${type} ${8 * 3}`)),
        );
      }
    }
    // The same batches again, at once: all duplicates, nothing counted.
    const retried = await Promise.all(batches.map((events) => ingest(events)));
    expect(retried.reduce((sum, r) => sum + r.accepted, 0)).toBe(0);
    expect(await accountUsage('rc1')).toEqual(
      days.flatMap((day) => [...types].sort().map((type) => `${day} ${type} ${8 * 2 * 3}`)),
    );
  });

  it('agrees with the rules recomputed from the stored events', async () => {
    const stored = await snapshot();
    expect(stored.account.length).toBeGreaterThan(20);
    expect(stored).toEqual(await expectedFromEvents());
  });

  it('rebuilds the same rollups from stored events (the migration backfill)', async () => {
    const before = await snapshot();
    await t.db.dataSource.query('TRUNCATE account_daily_usage, contact_daily_usage, visitor_daily_site');
    expect(await snapshot()).toEqual({ account: [], contact: [], visitor: [] });
    await backfillUsageRollups(t.db.dataSource);
    expect(await snapshot()).toEqual(before);
  });

  it('ingest only appends grouped counts; a fold moves them into the rollups once, even with folds at once', async () => {
    await createAccounts(['rd']);
    expect(await accountUsage('rd')).toEqual([]);
    const login = (id: string, at: string): UsageEventBody => ({
      id,
      type: 'login',
      occurredAt: at,
      accountExternalId: 'rd',
      contactExternalId: 'rd-1',
    });
    await ingest([login('rd-a', '2026-10-30T01:00:00Z'), login('rd-b', '2026-10-30T02:00:00Z')]);
    await ingest([login('rd-c', '2026-10-30T03:00:00Z'), login('rd-d', '2026-10-31T03:00:00Z')]);
    // Not in the rollups yet: two batches, each one account row per day and one contact row per day.
    const raw: { n: number }[] = await t.db.dataSource.query(
      `SELECT count(*)::int AS n FROM account_daily_usage u JOIN accounts a ON a.id = u.account_id WHERE a.external_id = 'rd'`,
    );
    expect(raw[0]!.n).toBe(0);
    const pending: { n: number }[] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM usage_rollup_deltas`);
    expect(pending[0]!.n).toBe(6);
    // Three folds at once (on PostgreSQL, three connections): each delta is folded by exactly one.
    const folded = await Promise.all([fold(), fold(), fold()]);
    expect(folded.reduce((a, b) => a + b, 0)).toBe(6);
    expect(await accountUsage('rd')).toEqual(['2026-10-30 login 3', '2026-10-31 login 1']);
    expect(await contactUsage('rd-1')).toEqual(['rd 2026-10-30 login 3', 'rd 2026-10-31 login 1']);
    expect(await fold()).toBe(0);
  });

  it('migrations down drop everything they created, and up rebuild the rollups from the log', async () => {
    const before = await snapshot();
    const rollups = new UsageRollups1764400000000();
    const deferred = new DeferredUsageRollups1764800000000();
    const runner = t.db.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      await deferred.down(runner);
      await rollups.down(runner);
      const left = (await runner.query(
        `SELECT (SELECT count(*) FROM pg_class WHERE relname IN ('account_daily_usage', 'contact_daily_usage', 'visitor_daily_site', 'ix_contact_daily_usage_account_day', 'usage_rollup_deltas'))
              + (SELECT count(*) FROM pg_proc WHERE proname IN ('events_roll_up_usage', 'usage_rollups_fold'))
              + (SELECT count(*) FROM pg_trigger WHERE tgname = 'tr_events_roll_up_usage') AS n`,
      )) as { n: string | number }[];
      expect(Number(left[0]!.n)).toBe(0);
      await rollups.up(runner);
      await deferred.up(runner);
      await runner.commitTransaction();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
    expect(await snapshot()).toEqual(before);
    // The trigger is back, feeding the deltas.
    await ingest([{ id: 'after-up', type: 'login', occurredAt: '2026-10-30T20:00:00Z', accountExternalId: 'rb' }]);
    expect(await accountUsage('rb')).toEqual(['2026-10-30 login 1', '2026-10-31 login 1']);
  });

  it('keeps the rollups when raw events are deleted (tracking retention)', async () => {
    const before = await snapshot();
    const tracking: { n: number }[] = await t.db.dataSource.query(
      `SELECT count(*)::int AS n FROM events WHERE source = 'tracking'`,
    );
    expect(tracking[0]!.n).toBeGreaterThan(0);
    const retention = new TrackingRetentionService(t.app.get(TrackingRepository), t.clock, t.config);
    t.clock.set(new Date('2028-06-01T00:00:00Z'));
    expect(await retention.sweep()).toBe(tracking[0]!.n);
    await t.db.dataSource.query(`DELETE FROM events WHERE source = 'api'`);
    expect(await snapshot()).toEqual(before);
  });
});
