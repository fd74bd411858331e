import { Test, type TestingModule } from '@nestjs/testing';
import { simpleParser, type ParsedMail } from 'mailparser';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { ManualClock } from '../src/common/clock';
import { CoreModule } from '../src/common/core.module';
import type { AppConfig } from '../src/config/app-config';
import { type HandoffPriority, manualHandoff } from '../src/handoffs/handoff.types';
import { HandoffWorker } from '../src/handoffs/handoff-worker.service';
import { HandoffsService } from '../src/handoffs/handoffs.service';
import { HandoffsWorkerModule } from '../src/handoffs/handoffs-worker.module';
import { HandoffNotifier } from '../src/handoffs/notifications/handoff-notifier';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server';
import { testConfig } from './support/test-app';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const BASE = 'https://tend.example';

describe('handoff notifications (mail through SMTP, webhooks, escalation, digest)', () => {
  let smtp: TestSmtpServer;
  let hooks: WebhookReceiver;
  let db: TestDatabase;
  let config: AppConfig;
  let tmpDir: string;
  let clock: ManualClock;
  let moduleRef: TestingModule;
  let handoffs: HandoffsService;
  let notifier: HandoffNotifier;
  let worker: HandoffWorker;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    hooks = await startWebhookReceiver();
    ({ config, tmpDir } = testConfig({
      MAIL_TRANSPORT: 'smtp',
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Tend <cs@tend.example>',
      PUBLIC_BASE_URL: BASE,
      OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${hooks.port}`,
      HANDOFF_LEAD: 'lead',
      HANDOFF_DIGEST_PRIORITIES: 'low',
      HANDOFF_DIGEST_AT: '09:00',
      DEFAULT_TIMEZONE: 'Asia/Tokyo',
    }));
    db = await createTestDatabase();
    // 10:00 in Tokyo: after the day's digest time.
    clock = new ManualClock(new Date('2026-11-01T01:00:00Z'));
    moduleRef = await Test.createTestingModule({
      imports: [CoreModule.forRoot({ config, database: db, clock }), HandoffsWorkerModule],
    }).compile();
    await moduleRef.init();
    handoffs = moduleRef.get(HandoffsService);
    notifier = moduleRef.get(HandoffNotifier);
    worker = moduleRef.get(HandoffWorker);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await db?.close();
    await hooks?.close();
    await smtp?.close();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  });

  async function csm(externalId: string, locale: 'ja' | 'en', webhook: string | null): Promise<string> {
    const [row] = await db.dataSource.query<{ id: string }[]>(
      `INSERT INTO csms (external_id, name, email, locale, notification_webhook_url)
       VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [externalId, `CSM ${externalId}`, `${externalId}@csm.example`, locale, webhook],
    );
    return row!.id;
  }

  async function account(name: string, ownerId: string | null): Promise<string> {
    const [row] = await db.dataSource.query<{ id: string }[]>(
      `INSERT INTO accounts (external_id, name, owner_csm_id, renewal_date) VALUES ($1, $2, $3, '2027-01-31') RETURNING id`,
      [`acct-${randomUUID().slice(0, 8)}`, name, ownerId],
    );
    return row!.id;
  }

  async function raise(accountId: string, reason: string, reasonText: string, priority: HandoffPriority) {
    const input = manualHandoff({ accountId, contactId: null, reason, reasonText, kind: 'risk', priority });
    return db.dataSource.transaction((m) => handoffs.raise(m, input, clock.now()));
  }

  async function mailsTo(address: string): Promise<ParsedMail[]> {
    return Promise.all(smtp.received.filter((r) => r.to.includes(address)).map((r) => simpleParser(r.raw)));
  }

  async function notifications(handoffId: string) {
    return db.dataSource.query<
      {
        channel: string;
        purpose: string;
        status: string;
        attempts: number;
        last_error: string | null;
        next_attempt_at: Date;
      }[]
    >(
      `SELECT channel, purpose, status, attempts, last_error, next_attempt_at FROM handoff_notifications
        WHERE handoff_id = $1 ORDER BY channel, purpose, created_at`,
      [handoffId],
    );
  }

  it('mails the CSM in Japanese and posts to their webhook; the figure: raise to notification', async () => {
    const owner = await csm('sato', 'ja', hooks.url('/hook/sato'));
    const acct = await account('株式会社サンプル', owner);
    const started = performance.now();
    const { id, created } = await raise(acct, 'usage_drop', '利用が急減しています', 'high');
    expect(created).toBe(true);
    const raisedAt = performance.now();
    await worker.runOnce();
    const deliveredAt = performance.now();

    const mails = await mailsTo('sato@csm.example');
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.subject).toBe('【対応依頼】株式会社サンプル：利用が急減しています');
    expect(mail.text).toContain('アカウント：株式会社サンプル');
    expect(mail.text).toContain('理由：利用が急減しています（usage_drop）');
    expect(mail.text).toContain('優先度：高');
    expect(mail.text).toContain('更新まで');
    expect(mail.html).toContain(`${BASE}/csm/handoffs/${id}`);
    expect(mail.html).not.toMatch(/\/t\/[oc]\//); // no tracking
    expect(mail.text).not.toMatch(/unsubscribe|配信停止/i);

    const posts = hooks.received.filter((h) => h.path === '/hook/sato');
    expect(posts).toHaveLength(1);
    const payload = posts[0]!.body as { text: string; blocks: unknown[] };
    expect(payload.text).toContain('利用が急減しています');
    expect(payload.text).toContain(`${BASE}/csm/handoffs/${id}`);
    expect(payload.blocks.length).toBeGreaterThan(0);

    expect((await notifications(id)).map((n) => [n.channel, n.status])).toEqual([
      ['email', 'sent'],
      ['webhook', 'sent'],
    ]);
    const history = await handoffs.historyOf(id);
    expect(history.filter((h) => h.action === 'notified').map((h) => h.detail)).toEqual(
      expect.arrayContaining([
        { channel: 'email', purpose: 'created' },
        { channel: 'webhook', purpose: 'created' },
      ]),
    );
    console.log(
      `[figure] handoff raise -> CSM notifications: raise ${(raisedAt - started).toFixed(1)} ms, ` +
        `webhook received ${(posts[0]!.at - started).toFixed(1)} ms, mail + webhook delivered ${(deliveredAt - started).toFixed(1)} ms ` +
        `after the raise began (one worker pass; the worker runs every 2 s, so add up to 2 s in production)`,
    );
  });

  it('mails an English-speaking CSM in English', async () => {
    const owner = await csm('smith', 'en', hooks.url('/hook/smith'));
    const acct = await account('Example Corp', owner);
    const started = performance.now();
    const { id } = await raise(acct, 'champion_left', 'The champion left the company', 'normal');
    await notifier.deliverDue();
    const elapsed = performance.now() - started;
    const mails = await mailsTo('smith@csm.example');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('[Handoff] Example Corp: The champion left the company');
    expect(mails[0]!.text).toContain('Account: Example Corp');
    expect(mails[0]!.text).toContain('Reason: The champion left the company (champion_left)');
    expect(mails[0]!.html).toContain(`${BASE}/csm/handoffs/${id}`);
    const posts = hooks.received.filter((h) => h.path === '/hook/smith');
    expect(posts).toHaveLength(1);
    expect((posts[0]!.body as { text: string }).text).toContain(
      '[Handoff] Example Corp: The champion left the company',
    );
    console.log(`[figure] handoff raise -> mail + webhook delivered (en): ${elapsed.toFixed(1)} ms`);
  });

  it('refuses a webhook to 127.0.0.1 that is not in OUTBOUND_ALLOW_HOSTS (mail still goes)', async () => {
    const owner = await csm('suzuki', 'ja', 'http://127.0.0.1:9/hook');
    const acct = await account('拒否テスト株式会社', owner);
    const { id } = await raise(acct, 'detractor', 'NPSで批判者', 'normal');
    await notifier.deliverDue();
    const rows = await notifications(id);
    expect(rows.map((n) => [n.channel, n.status])).toEqual([
      ['email', 'sent'],
      ['webhook', 'refused'],
    ]);
    expect(rows[1]!.last_error).toBe('refused: 127.0.0.1 is a loopback address');
    const failed = (await handoffs.historyOf(id)).filter((h) => h.action === 'notification_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.detail).toMatchObject({
      channel: 'webhook',
      purpose: 'created',
      reason: 'refused: 127.0.0.1 is a loopback address',
    });
    expect(await mailsTo('suzuki@csm.example')).toHaveLength(1);
  });

  it('treats a 302 from the webhook as a failure (not followed) and retries with backoff', async () => {
    const owner = await csm('tanaka', 'ja', hooks.url('/redirect/tanaka'));
    const acct = await account('リダイレクト株式会社', owner);
    const { id } = await raise(acct, 'stalled', 'オンボーディング停滞', 'normal');
    await notifier.deliverDue();
    let hook = (await notifications(id)).find((n) => n.channel === 'webhook')!;
    expect(hook.status).toBe('pending');
    expect(hook.attempts).toBe(1);
    expect(hook.last_error).toContain('302');
    expect(new Date(hook.next_attempt_at).getTime()).toBe(clock.now().getTime() + 30_000);
    expect(hooks.received.filter((h) => h.path === '/redirect/tanaka')).toHaveLength(1);
    expect(hooks.received.filter((h) => h.path === '/moved')).toHaveLength(0);

    // Not due yet: nothing is sent again.
    clock.advance(29_000);
    await notifier.deliverDue();
    expect(hooks.received.filter((h) => h.path === '/redirect/tanaka')).toHaveLength(1);
    clock.advance(1_000);
    await notifier.deliverDue();
    hook = (await notifications(id)).find((n) => n.channel === 'webhook')!;
    expect(hook.attempts).toBe(2);
    expect(new Date(hook.next_attempt_at).getTime()).toBe(clock.now().getTime() + 60_000);
    expect(hooks.received.filter((h) => h.path === '/redirect/tanaka')).toHaveLength(2);
    expect(hooks.received.filter((h) => h.path === '/moved')).toHaveLength(0);
    // The mail went once, whatever the webhook does.
    expect(await mailsTo('tanaka@csm.example')).toHaveLength(1);
  });

  it('gives a notification up after 8 attempts (status failed, history notification_failed)', async () => {
    const owner = await csm('ito', 'ja', hooks.url('/redirect/ito'));
    const acct = await account('諦め株式会社', owner);
    const { id } = await raise(acct, 'stalled', 'オンボーディング停滞', 'normal');
    for (let i = 0; i < 8; i++) {
      await notifier.deliverDue();
      clock.advance(3_600_000);
    }
    const hook = (await notifications(id)).find((n) => n.channel === 'webhook')!;
    expect(hook.status).toBe('failed');
    expect(hook.attempts).toBe(8);
    expect(hooks.received.filter((h) => h.path === '/redirect/ito')).toHaveLength(8);
    const failed = (await handoffs.historyOf(id)).filter((h) => h.action === 'notification_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.detail).toMatchObject({ channel: 'webhook', attempts: 8 });
  });

  it('escalates past the due time: the CSM is mailed again and the lead once', async () => {
    await csm('lead', 'ja', null);
    const owner = await csm('kato', 'ja', hooks.url('/hook/kato'));
    const acct = await account('期限切れ株式会社', owner);
    const { id } = await raise(acct, 'renewal_risk', '更新リスク', 'urgent');
    await worker.runOnce();
    expect(await mailsTo('kato@csm.example')).toHaveLength(1);
    const leadBefore = (await mailsTo('lead@csm.example')).length;

    clock.advance(59 * 60_000);
    await worker.runOnce();
    expect(await mailsTo('kato@csm.example')).toHaveLength(1);

    clock.advance(2 * 60_000);
    await worker.runOnce();
    const kato = await mailsTo('kato@csm.example');
    expect(kato).toHaveLength(2);
    expect(kato[1]!.subject).toBe('【エスカレーション】期限切れ株式会社：更新リスク');
    const lead = (await mailsTo('lead@csm.example')).slice(leadBefore);
    expect(lead.filter((m) => m.subject?.includes('期限切れ株式会社'))).toHaveLength(1);
    expect(lead.find((m) => m.subject?.includes('期限切れ株式会社'))!.html).toContain(`${BASE}/csm/handoffs/${id}`);
    expect(hooks.received.filter((h) => h.path === '/hook/kato')).toHaveLength(2);

    // Once: the next pass escalates nothing more.
    clock.advance(60 * 60_000);
    await worker.runOnce();
    expect(await mailsTo('kato@csm.example')).toHaveLength(2);
    const history = await handoffs.historyOf(id);
    expect(history.filter((h) => h.action === 'escalated')).toHaveLength(1);
    expect(history.filter((h) => h.action === 'notified' && h.detail.purpose === 'escalated')).toHaveLength(3);
  });

  it('puts low-priority handoffs in one daily digest at HANDOFF_DIGEST_AT instead of mailing at once', async () => {
    // 10:30 in Tokyo.
    clock.set(new Date('2026-11-10T01:30:00Z'));
    const owner = await csm('yamada', 'ja', null);
    const a1 = await account('ダイジェスト一号株式会社', owner);
    const a2 = await account('ダイジェスト二号株式会社', owner);
    const h1 = await raise(a1, 'low_usage', '利用が少なめ', 'low');
    const h2 = await raise(a2, 'low_usage', '利用が少なめ', 'low');
    await notifier.deliverDue();
    expect(await mailsTo('yamada@csm.example')).toHaveLength(0);
    expect((await notifications(h1.id)).map((n) => n.status)).toEqual(['digest']);
    // Today's digest (09:00) has gone: nothing until tomorrow's.
    expect(await notifier.sendDigests(clock.now())).toBe(0);
    clock.set(new Date('2026-11-10T23:59:00Z'));
    expect(await notifier.sendDigests(clock.now())).toBe(0);

    clock.set(new Date('2026-11-11T00:00:30Z'));
    expect(await notifier.sendDigests(clock.now())).toBe(1);
    const mails = await mailsTo('yamada@csm.example');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('【ハンドオフ日次まとめ】2件');
    expect(mails[0]!.text).toContain('ダイジェスト一号株式会社');
    expect(mails[0]!.text).toContain('ダイジェスト二号株式会社');
    expect(mails[0]!.html).toContain(`${BASE}/csm/handoffs/${h1.id}`);
    expect(mails[0]!.html).toContain(`${BASE}/csm/handoffs/${h2.id}`);
    expect((await notifications(h1.id)).map((n) => n.status)).toEqual(['sent']);
    expect((await handoffs.historyOf(h2.id)).filter((h) => h.action === 'notified').map((h) => h.detail)).toEqual([
      { channel: 'email', purpose: 'digest' },
    ]);

    // Once a day.
    clock.advance(2_000);
    expect(await notifier.sendDigests(clock.now())).toBe(0);
    expect(await mailsTo('yamada@csm.example')).toHaveLength(1);
  });
});
