import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { simpleParser } from 'mailparser';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../src/common/clock';
import { CoreModule } from '../src/common/core.module';
import { DomainErrorFilter } from '../src/common/domain-error.filter';
import type { AppConfig } from '../src/config/app-config';
import { MessageRenderer, RecipientPolicy } from '../src/messaging/messaging.contracts';
import { ProviderEventsRepository } from '../src/messaging/policy/provider-events.repository';
import { MessageQueue } from '../src/messaging/send/message-queue.service';
import { MessagingSendWorkerModule } from '../src/messaging/send/messaging-send-worker.module';
import { MessagingSendModule } from '../src/messaging/send/messaging-send.module';
import { SendRepository } from '../src/messaging/send/send.repository';
import { SendWorker } from '../src/messaging/send/send.worker';
import type { SendWorkerOptions } from '../src/messaging/send/send.options';
import { DEFAULT_SEND_WORKER_OPTIONS } from '../src/messaging/send/send.options';
import { MailTransport, type TransportResult } from '../src/messaging/send/transports/mail-transport';
import { OutboxTransport } from '../src/messaging/send/transports/outbox.transport';
import { SendGridTransport } from '../src/messaging/send/transports/sendgrid.transport';
import { SmtpTransport } from '../src/messaging/send/transports/smtp.transport';
import type { OutgoingMail } from '../src/messaging/send/outgoing-mail';
import { FAKE_TEMPLATES, FakePolicy, FakeRenderer } from './support/fake-messaging';
import { startSendGridStandIn, type SendGridStandIn } from './support/sendgrid-standin';
import { seedContact } from './support/seed';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server';
import { createTestDatabase, testEngine, type TestDatabase } from './support/test-database';
import { TEST_API_KEY, testConfig } from './support/test-app';

const WEDNESDAY_11_JST = new Date('2026-11-18T02:00:00Z');
const OPTIONS: SendWorkerOptions = {
  ...DEFAULT_SEND_WORKER_OPTIONS,
  leaseMs: 60_000,
  backoff: { maxAttempts: 5, baseMs: 1000, maxMs: 10_000 },
};

/** A transport that hands the message to `inner` and then never answers: the worker "crashed". */
class CrashAfterAccept extends MailTransport {
  readonly kind;
  accepted = 0;
  constructor(private readonly inner: MailTransport) {
    super();
    this.kind = inner.kind;
  }
  override async send(mail: OutgoingMail): Promise<TransportResult> {
    await this.inner.send(mail);
    this.accepted += 1;
    return new Promise<TransportResult>(() => undefined);
  }
  override lookup(id: string) {
    return this.inner.lookup(id);
  }
}

/** A transport whose sends wait until the test opens the gate. */
class GatedTransport extends MailTransport {
  readonly kind = 'smtp' as const;
  readonly sent: string[] = [];
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  override async send(mail: OutgoingMail): Promise<TransportResult> {
    this.sent.push(mail.messageId);
    await this.gate;
    return { providerMessageId: null };
  }
  override lookup(): Promise<'unknown'> {
    return Promise.resolve('unknown');
  }
  release(): void {
    this.open();
  }
}

interface Row {
  id: string;
  status: string;
  status_reason: string | null;
  attempts: number;
  due_at: Date;
  provider_message_id: string | null;
  message_id_header: string | null;
  transport: string | null;
}

describe('send pipeline', () => {
  let db: TestDatabase;
  let config: AppConfig;
  let tmpDir: string;
  let app: NestFastifyApplication;
  let clock: ManualClock;
  let renderer: FakeRenderer;
  let policy: FakePolicy;
  let queue: MessageQueue;
  let repository: SendRepository;
  let smtp: TestSmtpServer;
  let sendgrid: SendGridStandIn;
  let seq = 0;

  const worker = (transport: MailTransport, options: Partial<SendWorkerOptions> = {}) =>
    new SendWorker(repository, transport, clock, config, renderer, policy, { ...OPTIONS, ...options });
  const contact = async (extra: { timeZone?: string } = {}) => {
    seq += 1;
    const c = await seedContact(db.dataSource, {
      account: `acct-${seq}`,
      contact: `c-${seq}`,
      email: `person${seq}@customer.example`,
    });
    await db.dataSource.query(`UPDATE contacts SET name = $2, time_zone = $3 WHERE id = $1`, [
      c.contactId,
      `山田${seq}`,
      extra.timeZone ?? null,
    ]);
    return c;
  };
  const enqueue = async (contactId: string, template = 'onboarding/first-steps', extra: { expiresAt?: Date } = {}) =>
    (
      await queue.enqueue(db.dataSource.manager, {
        intentKey: `test:${++seq}`,
        contactId,
        template,
        ...extra,
      })
    ).message;
  const row = async (id: string): Promise<Row> =>
    (
      await db.dataSource.query<Row[]>(
        `SELECT id, status, status_reason, attempts, due_at, provider_message_id, message_id_header, transport FROM messages WHERE id = $1`,
        [id],
      )
    )[0]!;
  const events = (id: string) =>
    db.dataSource.query<{ type: string; idempotency_key: string }[]>(
      `SELECT type, idempotency_key FROM events WHERE props->>'messageId' = $1 ORDER BY id`,
      [id],
    );
  const api = (method: 'GET' | 'POST', url: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: { 'x-api-key': TEST_API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    ({ config, tmpDir } = testConfig({
      MAIL_FROM: 'Acme CS <cs@acme.example>',
      UNSUBSCRIBE_MAILTO: 'unsubscribe@acme.example',
      MAIL_RATE_PER_SECOND: '1000',
    }));
    db = await createTestDatabase({ poolSize: 8 });
    clock = new ManualClock(WEDNESDAY_11_JST);
    renderer = new FakeRenderer();
    policy = new FakePolicy();
    @Global()
    @Module({
      providers: [
        { provide: MessageRenderer, useValue: renderer },
        { provide: RecipientPolicy, useValue: policy },
      ],
      exports: [MessageRenderer, RecipientPolicy],
    })
    class FakeMessagingModule {}
    @Module({
      imports: [
        CoreModule.forRoot({ config, database: db, clock }),
        FakeMessagingModule,
        MessagingSendModule,
        MessagingSendWorkerModule,
      ],
    })
    class TestSendModule {}
    app = await NestFactory.create<NestFastifyApplication>(TestSendModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new DomainErrorFilter());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    queue = app.get(MessageQueue);
    repository = app.get(SendRepository);
    smtp = await startSmtpServer();
    sendgrid = await startSendGridStandIn();
  });
  afterEach(async () => {
    // Park whatever a test left queued so the next test's workers see only their own messages.
    await db.dataSource.query(
      `UPDATE messages SET status = 'dead', lease_token = NULL, lease_expires_at = NULL WHERE status IN ('queued', 'sending')`,
    );
    clock.set(WEDNESDAY_11_JST);
    policy.denied.clear();
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await sendgrid?.close();
    await db?.close();
    rmSync(tmpDir, { recursive: true, force: true });
  });

  describe('POST /api/messages', () => {
    it('queues once per idempotency key: 202, then 200 with the same message', async () => {
      const c = await contact();
      const body = { idempotencyKey: 'welcome-1', contactExternalId: `c-${seq}`, template: 'onboarding/first-steps' };
      const first = await api('POST', '/api/messages', body);
      expect(first.statusCode).toBe(202);
      const created = first.json<{ id: string; status: string; kind: string }>();
      expect(created).toMatchObject({ status: 'queued', kind: 'advertising' });
      const again = await api('POST', '/api/messages', body);
      expect(again.statusCode).toBe(200);
      expect(again.json<{ id: string }>().id).toBe(created.id);
      const [counted] = await db.dataSource.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM messages WHERE contact_id = $1`,
        [c.contactId],
      );
      expect(Number(counted!.n)).toBe(1);
    });

    it('rejects unknown fields, unknown templates and unknown contacts', async () => {
      await contact();
      const base = { idempotencyKey: 'k-2', contactExternalId: `c-${seq}`, template: 'onboarding/first-steps' };
      expect((await api('POST', '/api/messages', { ...base, extra: 1 })).statusCode).toBe(400);
      expect((await api('POST', '/api/messages', { ...base, template: 'nope/missing' })).statusCode).toBe(400);
      expect((await api('POST', '/api/messages', { ...base, contactExternalId: 'ghost' })).statusCode).toBe(404);
      const noKey = await app.inject({ method: 'POST', url: '/api/messages', payload: base });
      expect(noKey.statusCode).toBe(401);
    });
  });

  describe('outbox transport', () => {
    it('writes <id>.eml, records sent with links and an event, and serves it through the API', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const summary = await worker(new OutboxTransport(config.mail.outboxDir)).runOnce(clock.now());
      expect(summary).toMatchObject({ claimed: 1, sent: 1 });
      expect(await row(message.id)).toMatchObject({ status: 'sent', transport: 'outbox', attempts: 1 });
      expect(existsSync(join(config.mail.outboxDir, `${message.id}.eml`))).toBe(true);
      const links = await db.dataSource.query<{ url: string }[]>(
        `SELECT url FROM message_links WHERE message_id = $1 ORDER BY link_index`,
        [message.id],
      );
      expect(links.map((l) => l.url)).toEqual([
        'https://docs.acme.example/getting-started',
        'https://acme.example/case-study',
      ]);
      expect((await events(message.id)).map((e) => e.idempotency_key)).toEqual([`${message.id}:email.sent`]);

      const list = await api('GET', '/api/outbox');
      const items = list.json<{ items: { id: string; to: string; subject: string }[] }>().items;
      expect(items.find((i) => i.id === message.id)).toMatchObject({ to: `c-${seq - 1}` });
      expect(JSON.stringify(items)).not.toContain('@customer.example');
      const eml = await api('GET', `/api/outbox/${message.id}`);
      expect(eml.statusCode).toBe(200);
      expect(eml.headers['content-type']).toBe('message/rfc822');
      const parsed = await simpleParser(eml.rawPayload);
      expect(parsed.messageId).toBe(`<${message.id}@acme.example>`);
      expect((await api('GET', '/api/outbox/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    });
  });

  describe('smtp transport (real smtp-server)', () => {
    it('sends base64 MIME with a deterministic Message-ID, List-Unsubscribe headers and Japanese intact', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const transport = new SmtpTransport({ url: smtp.url, poolSize: 2 });
      try {
        expect(await worker(transport).runOnce(clock.now())).toMatchObject({ sent: 1 });
      } finally {
        await transport.close();
      }
      const mail = smtp.received.at(-1)!;
      expect(mail.to).toEqual([`person${seq - 1}@customer.example`]);
      expect(mail.from).toBe('cs@acme.example');
      const raw = mail.raw.toString('utf8');
      expect(raw).toMatch(/Content-Transfer-Encoding: base64/);
      expect(raw).not.toMatch(/quoted-printable/i);
      const parsed = await simpleParser(mail.raw);
      expect(parsed.messageId).toBe(`<${message.id}@acme.example>`);
      expect((await row(message.id)).message_id_header).toBe(`<${message.id}@acme.example>`);
      expect(parsed.subject).toBe(`【Acme】山田${seq - 1}様、はじめの一歩`);
      expect(parsed.text).toContain('ご利用ありがとうございます。');
      expect(parsed.html).toContain('まずは設定ガイドをご覧ください。');
      const list = parsed.headers.get('list') as { unsubscribe?: unknown };
      expect(JSON.stringify(list.unsubscribe)).toContain(`https://tend.example/u/token-${message.id}`);
      expect(JSON.stringify(list.unsubscribe)).toContain('unsubscribe@acme.example');
      expect(parsed.headerLines.find((h) => h.key === 'list-unsubscribe-post')?.line).toBe(
        'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
      );
    });

    it('omits List-Unsubscribe-Post on operational mail', async () => {
      const c = await contact();
      await enqueue(c.contactId, 'account/notice');
      const transport = new SmtpTransport({ url: smtp.url, poolSize: 1 });
      try {
        await worker(transport).runOnce(clock.now());
      } finally {
        await transport.close();
      }
      const parsed = await simpleParser(smtp.received.at(-1)!.raw);
      expect(parsed.headerLines.some((h) => h.key === 'list-unsubscribe-post')).toBe(false);
      expect(parsed.headerLines.some((h) => h.key === 'list-unsubscribe')).toBe(true);
      expect(parsed.headers.get('list')).toBeDefined();
    });

    it('retries a 4xx SMTP answer and dead-letters a 5xx at once', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const transport = new SmtpTransport({ url: smtp.url, poolSize: 1 });
      try {
        smtp.failNext(1, 451);
        expect(await worker(transport).runOnce(clock.now())).toMatchObject({ retried: 1 });
        expect(await row(message.id)).toMatchObject({ status: 'queued', attempts: 1 });
        const second = await enqueue(c.contactId, 'account/notice');
        clock.advance(5 * 60_000);
        smtp.failNext(2, 550);
        await worker(transport).runOnce(clock.now());
        expect((await row(second.id)).status).toBe('dead');
        expect((await row(second.id)).status_reason).toMatch(/^rejected: smtp 550/);
      } finally {
        await transport.close();
      }
    });
  });

  describe('sendgrid transport (local stand-in)', () => {
    const sg = () => new SendGridTransport({ apiKey: 'SG.test', baseUrl: sendgrid.baseUrl }, () => clock.now());

    it('posts /v3/mail/send with only our id as custom arg and records the provider id on 202', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const before = sendgrid.requests.length;
      expect(await worker(sg()).runOnce(clock.now())).toMatchObject({ sent: 1 });
      const request = sendgrid.requests[before]!;
      expect(request.headers.authorization).toBe('Bearer SG.test');
      expect(request.body.custom_args).toEqual({ tend_message_id: message.id });
      expect(JSON.stringify(request.body.custom_args)).not.toContain('@');
      expect(request.body.headers).toMatchObject({ 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
      expect(request.body.subject).toContain('はじめの一歩');
      const stored = await row(message.id);
      expect(stored.status).toBe('sent');
      expect(stored.provider_message_id).toMatch(/^sg-\d+$/);
    });

    it('honours 429 Retry-After: nothing sent before it, then success', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const w = worker(sg());
      sendgrid.script([{ status: 429, headers: { 'retry-after': '120' }, body: { errors: [{ message: 'rate' }] } }]);
      const before = sendgrid.requests.length;
      expect(await w.runOnce(clock.now())).toMatchObject({ retried: 1 });
      const waiting = await row(message.id);
      expect(waiting.status).toBe('queued');
      expect(new Date(waiting.due_at).getTime()).toBeGreaterThanOrEqual(clock.now().getTime() + 120_000);
      clock.advance(60_000);
      expect(await w.runOnce(clock.now())).toMatchObject({ claimed: 0 });
      expect(sendgrid.requests.length).toBe(before + 1);
      clock.advance(70_000);
      expect(await w.runOnce(clock.now())).toMatchObject({ sent: 1 });
      // A 429 is "not now", not a failed attempt.
      expect(await row(message.id)).toMatchObject({ status: 'sent', attempts: 1 });
    });

    it('never dead-letters for rate limits: more 429s than attempts allowed, then sent', async () => {
      const message = await enqueue((await contact()).contactId);
      const w = worker(sg());
      const limits = OPTIONS.backoff.maxAttempts + 2;
      sendgrid.script(Array.from({ length: limits }, () => ({ status: 429, headers: { 'retry-after': '5' } })));
      for (let i = 0; i < limits; i += 1) {
        expect(await w.runOnce(clock.now())).toMatchObject({ retried: 1 });
        clock.advance(11_000);
      }
      expect(await w.runOnce(clock.now())).toMatchObject({ sent: 1 });
      expect(await row(message.id)).toMatchObject({ status: 'sent', attempts: 1 });
    });

    it('a 429 stops the sends of its chunk still waiting for their turn: deferred unsent, attempt not counted', async () => {
      const first = await enqueue((await contact()).contactId);
      const second = await enqueue((await contact()).contactId);
      // One send a second: the second message waits in the pacing while the first is answered 429.
      const paced = new SendWorker(
        repository,
        sg(),
        clock,
        { ...config, mail: { ...config.mail, ratePerSecond: 1 } },
        renderer,
        policy,
        OPTIONS,
      );
      sendgrid.script([{ status: 429, headers: { 'retry-after': '90' } }]);
      const before = sendgrid.requests.length;
      expect(await paced.runOnce(clock.now())).toMatchObject({ retried: 1, deferred: 1 });
      expect(sendgrid.requests.slice(before).map((r) => r.body.custom_args)).toEqual([{ tend_message_id: first.id }]);
      expect(await row(second.id)).toMatchObject({
        status: 'queued',
        status_reason: 'provider_rate_limit',
        attempts: 0,
      });
      expect(new Date((await row(second.id)).due_at).getTime()).toBeGreaterThanOrEqual(clock.now().getTime() + 90_000);
    });

    it('after a 429 mid-batch, the rest of the batch waits for Retry-After instead of being sent', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) ids.push((await enqueue((await contact()).contactId, 'account/notice')).id);
      const w = worker(sg(), { chunkSize: 1, concurrency: 1 });
      sendgrid.script([{ status: 429, headers: { 'retry-after': '90' }, body: { errors: [{ message: 'rate' }] } }]);
      const before = sendgrid.requests.length;
      expect(await w.runOnce(clock.now())).toMatchObject({ claimed: 3, retried: 1, deferred: 2 });
      expect(sendgrid.requests.length).toBe(before + 1);
      const rows = await Promise.all(ids.map(row));
      const resume = clock.now().getTime() + 90_000;
      for (const r of rows) expect(new Date(r.due_at).getTime()).toBeGreaterThanOrEqual(resume);
      expect(rows.filter((r) => r.status_reason === 'provider_rate_limit')).toHaveLength(2);
      clock.advance(200_000);
      expect(await w.runOnce(clock.now())).toMatchObject({ sent: 3 });
    });

    it('dead-letters a 400 at once', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      sendgrid.script([{ status: 400, body: { errors: [{ message: 'bad from' }] } }]);
      expect(await worker(sg()).runOnce(clock.now())).toMatchObject({ dead: 1 });
      expect(await row(message.id)).toMatchObject({ status: 'dead', attempts: 1 });
      expect((await row(message.id)).status_reason).toMatch(/^rejected: sendgrid 400/);
      expect((await events(message.id)).map((e) => e.type)).toEqual(['email.dead']);
    });

    it('retries repeated 500s with backoff, then dead-letters after 5 attempts', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      sendgrid.script(Array.from({ length: 5 }, () => ({ status: 500 })));
      const w = worker(sg());
      const before = sendgrid.requests.length;
      for (let i = 0; i < 5; i += 1) {
        await w.runOnce(clock.now());
        clock.advance(11_000);
      }
      expect(sendgrid.requests.length).toBe(before + 5);
      expect(await row(message.id)).toMatchObject({ status: 'dead', attempts: 5 });
      expect((await row(message.id)).status_reason).toMatch(/^retries_exhausted: sendgrid 500/);
      await w.runOnce(clock.now());
      expect(sendgrid.requests.length).toBe(before + 5);
    });
  });

  describe('exactly once', () => {
    it('two workers claiming the same due messages at once send each exactly once', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 30; i += 1) ids.push((await enqueue((await contact()).contactId, 'account/notice')).id);
      const before = smtp.received.length;
      const a = new SmtpTransport({ url: smtp.url, poolSize: 2 });
      const b = new SmtpTransport({ url: smtp.url, poolSize: 2 });
      try {
        const [ra, rb] = await Promise.all([
          worker(a, { batchSize: 20 }).runOnce(clock.now()),
          worker(b, { batchSize: 20 }).runOnce(clock.now()),
        ]);
        if (testEngine() === 'postgres') expect(ra.claimed).toBeGreaterThan(0);
        expect(ra.claimed + rb.claimed).toBeLessThanOrEqual(30);
        // Whatever remains (batch limits) goes out on a second pass.
        await Promise.all([worker(a).runOnce(clock.now()), worker(b).runOnce(clock.now())]);
      } finally {
        await a.close();
        await b.close();
      }
      const got = smtp.received.slice(before).map((m) => /Message-ID: <([^@]+)@/i.exec(m.raw.toString())![1]);
      expect(got.sort()).toEqual([...ids].sort());
      const statuses = await db.dataSource.query<{ status: string }[]>(
        `SELECT status FROM messages WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      expect(statuses.every((s) => s.status === 'sent')).toBe(true);
    });

    it('one tick drains a backlog in back-to-back batches, not one batch a second', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 12; i += 1) ids.push((await enqueue((await contact()).contactId, 'account/notice')).id);
      const transport = new SmtpTransport({ url: smtp.url, poolSize: 2 });
      try {
        await worker(transport, { batchSize: 5 }).tick();
      } finally {
        await transport.close();
      }
      const statuses = await db.dataSource.query<{ status: string }[]>(
        `SELECT status FROM messages WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      expect(statuses.map((s) => s.status)).toEqual(Array.from({ length: 12 }, () => 'sent'));
    });

    it('a send that outlasts its lease keeps the lease renewed: no other worker takes the message over', async () => {
      const message = await enqueue((await contact()).contactId);
      const slow = new GatedTransport();
      const rival = new GatedTransport();
      rival.release();
      const running = worker(slow, { leaseRenewMs: 10 }).runOnce(clock.now());
      await waitFor(() => slow.sent.length === 1);
      const expiry = async () =>
        (
          await db.dataSource.query<{ lease_expires_at: Date }[]>(
            `SELECT lease_expires_at FROM messages WHERE id = $1`,
            [message.id],
          )
        )[0]!.lease_expires_at.getTime();
      // The SMTP server takes ten minutes to answer (the lease is one minute).
      clock.advance(10 * 60_000);
      const deadline = Date.now() + 2000;
      while ((await expiry()) <= clock.now().getTime() && Date.now() < deadline) await sleep(10);
      expect(await worker(rival).runOnce(clock.now())).toMatchObject({ reclaimed: 0, claimed: 0 });
      slow.release();
      expect(await running).toMatchObject({ sent: 1 });
      expect(rival.sent).toEqual([]);
      expect(await row(message.id)).toMatchObject({ status: 'sent', attempts: 1 });
    });

    it('a message whose lease ran out before its turn is not sent, and goes back to the queue unmarked', async () => {
      const first = await enqueue((await contact()).contactId);
      const second = await enqueue((await contact()).contactId);
      const slow = new GatedTransport();
      // Renewals fail (here: none run), one message per chunk: the second waits for the first.
      const running = worker(slow, { leaseRenewMs: 0, chunkSize: 1, concurrency: 1 }).runOnce(clock.now());
      await waitFor(() => slow.sent.length === 1);
      clock.advance(OPTIONS.leaseMs);
      slow.release();
      expect(await running).toMatchObject({ sent: 1, retried: 1 });
      expect(slow.sent).toEqual([first.id]);
      expect(await row(first.id)).toMatchObject({ status: 'sent' });
      // Not marked in flight: the next worker sends it without holding it for reconciliation.
      expect(await row(second.id)).toMatchObject({ status: 'queued', status_reason: null });
      const next = new GatedTransport();
      next.release();
      expect(await worker(next).runOnce(clock.now())).toMatchObject({ sent: 1 });
      expect(next.sent).toEqual([second.id]);
    });

    it('extends only leases its tokens still hold', async () => {
      const message = await enqueue((await contact()).contactId);
      const [claimed] = await repository.claimDue(clock.now(), 1, 1000);
      const until = new Date(clock.now().getTime() + 120_000);
      expect(await repository.extendLeases([{ id: message.id, leaseToken: message.id }], until)).toEqual(new Set());
      expect(await repository.extendLeases([{ id: message.id, leaseToken: claimed!.leaseToken! }], until)).toEqual(
        new Set([message.id]),
      );
      clock.advance(60_000);
      expect(await repository.reclaimExpired(clock.now())).toBe(0);
    });

    it('rejects a write carrying a stale lease token', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const [claimed] = await repository.claimDue(clock.now(), 1, 1000);
      expect(claimed!.id).toBe(message.id);
      clock.advance(2000);
      expect(await repository.reclaimExpired(clock.now())).toBe(1);
      const [again] = await repository.claimDue(clock.now(), 1, 60_000);
      expect(again!.leaseToken).not.toBe(claimed!.leaseToken);
      const stale = await repository.fencedUpdate(
        { id: message.id, leaseToken: claimed!.leaseToken! },
        { status: 'sent', sentAt: clock.now(), updatedAt: clock.now() },
      );
      expect(stale).toBe(false);
      expect((await row(message.id)).status).toBe('sending');
      const fresh = await repository.fencedUpdate(
        { id: message.id, leaseToken: again!.leaseToken! },
        { status: 'dead', statusReason: 'test', updatedAt: clock.now() },
      );
      expect(fresh).toBe(true);
    });

    it('records the send when the provider reported delivery first, keeping the later status', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const [claimed] = await repository.claimDue(clock.now(), 1, 60_000);
      // The transport took it; SendGrid's delivered event is processed before the worker records the send.
      const delivered = clock.now();
      await new ProviderEventsRepository(db.dataSource).advanceStatuses(
        db.dataSource.manager,
        [{ messageId: message.id, status: 'delivered', reason: null, deliveredAt: delivered }],
        delivered,
      );
      const early = await db.dataSource.query<{ status: string; sent_at: Date | null }[]>(
        'SELECT status, sent_at FROM messages WHERE id = $1',
        [message.id],
      );
      // Counted for the frequency caps from the moment the provider said so.
      expect(early[0]).toEqual({ status: 'delivered', sent_at: delivered });
      clock.advance(1000);
      const recorded = await repository.recordSentMany(
        [
          {
            message: { id: message.id, leaseToken: claimed!.leaseToken! },
            providerMessageId: 'sg-early',
            eventKey: `${message.id}:sent`,
            eventProps: {},
          },
        ],
        clock.now(),
      );
      expect(recorded).toEqual([true]);
      const after = await db.dataSource.query<{ status: string; sent_at: Date; provider_message_id: string }[]>(
        'SELECT status, sent_at, provider_message_id FROM messages WHERE id = $1',
        [message.id],
      );
      expect(after[0]).toEqual({ status: 'delivered', sent_at: clock.now(), provider_message_id: 'sg-early' });
      const sentEvents = await db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM events WHERE type = 'email.sent' AND idempotency_key = $1`,
        [`${message.id}:sent`],
      );
      expect(sentEvents[0]!.n).toBe(1);
    });

    it('outbox: a crash after the file was written is recorded as sent on restart, not written again', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      const crashing = new CrashAfterAccept(new OutboxTransport(config.mail.outboxDir));
      // The process "dies" after the transport accepted: a dead process renews no lease.
      void worker(crashing, { leaseRenewMs: 0 }).runOnce(clock.now());
      await waitFor(() => crashing.accepted === 1);
      const file = join(config.mail.outboxDir, `${message.id}.eml`);
      const firstWrite = readFileSync(file);
      expect(await row(message.id)).toMatchObject({ status: 'sending', status_reason: 'in_flight' });
      clock.advance(OPTIONS.leaseMs + 1000);
      const restarted = new OutboxTransport(config.mail.outboxDir);
      const sendSpy = jest.spyOn(restarted, 'send');
      expect(await worker(restarted).runOnce(clock.now())).toMatchObject({ reclaimed: 1, sent: 1 });
      expect(sendSpy).not.toHaveBeenCalled();
      expect(readFileSync(file).equals(firstWrite)).toBe(true);
      expect((await row(message.id)).status).toBe('sent');
    });

    /** Sends `template` to a new contact through SMTP and "crashes" once the server took it. */
    const crashAfterServerAccepted = async (template: string) => {
      const c = await contact();
      const message = await enqueue(c.contactId, template);
      const before = smtp.received.length;
      const inner = new SmtpTransport({ url: smtp.url, poolSize: 1 });
      const crashing = new CrashAfterAccept(inner);
      void worker(crashing, { leaseRenewMs: 0 }).runOnce(clock.now());
      await waitFor(() => crashing.accepted === 1);
      await inner.close();
      clock.advance(OPTIONS.leaseMs + 1000);
      return { message, before };
    };

    it('smtp: operational mail interrupted the same way is sent again (at-least-once), same Message-ID', async () => {
      const { message, before } = await crashAfterServerAccepted('account/notice');
      const restarted = new SmtpTransport({ url: smtp.url, poolSize: 1 });
      try {
        expect(await worker(restarted).runOnce(clock.now())).toMatchObject({ reclaimed: 1, sent: 1 });
      } finally {
        await restarted.close();
      }
      const copies = smtp.received.slice(before).map((m) => /Message-ID: (<[^>]+>)/i.exec(m.raw.toString())![1]);
      expect(copies).toEqual([`<${message.id}@acme.example>`, `<${message.id}@acme.example>`]);
      expect(await row(message.id)).toMatchObject({ status: 'sent', attempts: 2 });
    });

    it('smtp: a crash after the server accepted leaves the message unknown, never resent', async () => {
      const { message, before } = await crashAfterServerAccepted('onboarding/first-steps');
      const restarted = new SmtpTransport({ url: smtp.url, poolSize: 1 });
      try {
        expect(await worker(restarted).runOnce(clock.now())).toMatchObject({ reclaimed: 1, unknown: 1 });
        clock.advance(60 * 60_000);
        expect(await worker(restarted).runOnce(clock.now())).toMatchObject({ claimed: 0 });
      } finally {
        await restarted.close();
      }
      expect(smtp.received.length).toBe(before + 1);
      expect(await row(message.id)).toMatchObject({ status: 'unknown' });
      expect((await row(message.id)).status_reason).toMatch(/^outcome_unknown/);
    });
  });

  describe('send-time decisions', () => {
    const outbox = () => new OutboxTransport(config.mail.outboxDir);

    it('skips a contact who unsubscribed between enqueue and send: suppressed, nothing sent', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId);
      policy.denied.add(c.contactId);
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ suppressed: 1, sent: 0 });
      expect(await row(message.id)).toMatchObject({ status: 'suppressed', status_reason: 'unsubscribed', attempts: 0 });
      expect(existsSync(join(config.mail.outboxDir, `${message.id}.eml`))).toBe(false);
      expect((await events(message.id)).map((e) => e.type)).toEqual(['email.suppressed']);
    });

    it('defers an advertising message due at 23:00 Friday in Tokyo to 09:00 Monday local', async () => {
      const c = await contact({ timeZone: 'Asia/Tokyo' });
      clock.set(new Date('2026-11-20T14:00:00Z')); // Friday 23:00 JST
      const message = await enqueue(c.contactId);
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ deferred: 1 });
      const deferred = await row(message.id);
      expect(deferred).toMatchObject({ status: 'queued', status_reason: 'quiet_hours' });
      expect(new Date(deferred.due_at).toISOString()).toBe('2026-11-23T00:00:00.000Z'); // Monday 09:00 JST
      clock.set(new Date('2026-11-22T23:59:00Z'));
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ claimed: 0 });
      clock.set(new Date('2026-11-23T00:00:00Z'));
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ sent: 1 });
    });

    it('evaluates quiet hours in the contact zone, then the account zone', async () => {
      const ny = await contact({ timeZone: 'America/New_York' });
      const message = await enqueue(ny.contactId); // Wednesday 11:00 JST = Tuesday 21:00 New York
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ deferred: 1 });
      expect(new Date((await row(message.id)).due_at).toISOString()).toBe('2026-11-18T14:00:00.000Z'); // 09:00 EST
    });

    it('defers advertising mail over the per-contact 7-day cap until the oldest counted send ages out', async () => {
      const c = await contact();
      const sentAt = [1, 2, 3].map((d) => new Date(clock.now().getTime() - d * 24 * 60 * 60_000));
      for (const [i, at] of sentAt.entries()) {
        await db.dataSource.query(
          `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, status, sent_at)
           VALUES (gen_random_uuid(), $1, $2, $3, 'onboarding/first-steps', 'ja', 'advertising', 'sent', $4)`,
          [`cap:${seq}:${i}`, c.contactId, c.accountId, at.toISOString()],
        );
      }
      const message = await enqueue(c.contactId);
      const operational = await enqueue(c.contactId, 'account/notice');
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ deferred: 1, sent: 1 });
      const deferred = await row(message.id);
      expect(deferred).toMatchObject({ status: 'queued', status_reason: 'frequency_cap' });
      // The third most recent send (3 days ago) leaves the window 4 days from now.
      expect(new Date(deferred.due_at).getTime()).toBeGreaterThanOrEqual(sentAt[2]!.getTime() + 7 * 24 * 60 * 60_000);
      expect((await row(operational.id)).status).toBe('sent');
      expect((await events(message.id)).map((e) => e.type)).toEqual(['email.deferred']);
    });

    /** A contact with two advertising mails sent in the last days: one slot left under the cap of 3. */
    const contactWithOneSlotLeft = async () => {
      const c = await contact();
      for (const d of [1, 2]) {
        await db.dataSource.query(
          `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, status, sent_at)
           VALUES (gen_random_uuid(), $1, $2, $3, 'onboarding/first-steps', 'ja', 'advertising', 'sent', $4)`,
          [
            `slot:${seq}:${d}`,
            c.contactId,
            c.accountId,
            new Date(clock.now().getTime() - d * 86_400_000).toISOString(),
          ],
        );
      }
      return c;
    };

    it("counts another instance's send in flight toward the caps: the last slot is not taken twice", async () => {
      const c = await contactWithOneSlotLeft();
      const first = await enqueue(c.contactId);
      const slow = new GatedTransport();
      const running = worker(slow, { batchSize: 1 }).runOnce(clock.now());
      await waitFor(() => slow.sent.length === 1);
      // Another instance picks up the contact's next mail while the first is being sent.
      const second = await enqueue(c.contactId);
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ claimed: 1, deferred: 1, sent: 0 });
      expect(await row(second.id)).toMatchObject({ status: 'queued', status_reason: 'frequency_cap' });
      slow.release();
      expect(await running).toMatchObject({ sent: 1 });
      expect(await row(first.id)).toMatchObject({ status: 'sent' });
    });

    it('two instances deciding the caps of one contact at once send only what the cap allows', async () => {
      const c = await contactWithOneSlotLeft();
      const ids = [(await enqueue(c.contactId)).id, (await enqueue(c.contactId)).id];
      const [a, b] = await Promise.all([
        worker(outbox(), { batchSize: 1 }).runOnce(clock.now()),
        worker(outbox(), { batchSize: 1 }).runOnce(clock.now()),
      ]);
      expect(a.claimed + b.claimed).toBe(2);
      expect([a.sent + b.sent, a.deferred + b.deferred]).toEqual([1, 1]);
      const statuses = (await Promise.all(ids.map(row))).map((r) => r.status).sort();
      expect(statuses).toEqual(['queued', 'sent']);
    });

    it('treats a message as its template is now: a notice that became advertising is capped and checked as such', async () => {
      const c = await contactWithOneSlotLeft();
      const earlier = await enqueue(c.contactId);
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ sent: 1 });
      expect((await row(earlier.id)).status).toBe('sent');
      // Queued as an operational notice; by the time it is due, the template is advertising.
      const message = await enqueue(c.contactId, 'account/notice');
      const before = { ...FAKE_TEMPLATES['account/notice']! };
      FAKE_TEMPLATES['account/notice'] = { kind: 'advertising', topic: 'product_tips' };
      try {
        expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ deferred: 1, sent: 0 });
      } finally {
        FAKE_TEMPLATES['account/notice'] = before;
      }
      expect(await row(message.id)).toMatchObject({ status: 'queued', status_reason: 'frequency_cap' });
      expect(policy.asked.filter((q) => q.contactId === c.contactId).at(-1)).toEqual({
        contactId: c.contactId,
        kind: 'advertising',
        topic: 'product_tips',
      });
      const [stored] = await db.dataSource.query<{ kind: string; topic: string }[]>(
        `SELECT kind, topic FROM messages WHERE id = $1`,
        [message.id],
      );
      expect(stored).toEqual({ kind: 'advertising', topic: 'product_tips' });
    });

    it('counts an attempt whose outcome is unknown toward the caps', async () => {
      const c = await contactWithOneSlotLeft();
      await db.dataSource.query(
        `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, status, updated_at)
         VALUES (gen_random_uuid(), $1, $2, $3, 'onboarding/first-steps', 'ja', 'advertising', 'unknown', $4)`,
        [`unknown:${seq}`, c.contactId, c.accountId, new Date(clock.now().getTime() - 3_600_000).toISOString()],
      );
      const message = await enqueue(c.contactId);
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ deferred: 1 });
      expect(await row(message.id)).toMatchObject({ status: 'queued', status_reason: 'frequency_cap' });
    });

    it('counts sends decided earlier in the same batch: two mails to one contact under a cap of 1 send one', async () => {
      const c = await contact();
      const first = await enqueue(c.contactId);
      const second = await enqueue(c.contactId);
      const capped = {
        ...config,
        mail: { ...config.mail, caps: { advertisingPerContact7d: 1, advertisingPerAccountDay: 0 } },
      };
      const w = new SendWorker(repository, outbox(), clock, capped, renderer, policy, OPTIONS);
      expect(await w.runOnce(clock.now())).toMatchObject({ claimed: 2, sent: 1, deferred: 1 });
      const statuses = [(await row(first.id)).status_reason, (await row(second.id)).status_reason].sort();
      expect(statuses).toEqual(['frequency_cap', null].sort());
    });

    it('a message that cannot be rendered ends dead with the reason, once; the rest of the batch is sent', async () => {
      const c = await contact();
      const broken = await enqueue(c.contactId, 'account/notice');
      const fine = await enqueue(c.contactId, 'onboarding/first-steps');
      const render = renderer.render.bind(renderer);
      const failing = jest
        .spyOn(renderer, 'render')
        .mockImplementation((request) =>
          request.template === 'account/notice'
            ? Promise.reject(new Error('helper formatDate failed'))
            : render(request),
        );
      try {
        expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ dead: 1, sent: 1 });
      } finally {
        failing.mockRestore();
      }
      expect(await row(broken.id)).toMatchObject({
        status: 'dead',
        status_reason: 'render_failed: helper formatDate failed',
      });
      expect((await events(broken.id)).map((e) => e.type)).toEqual(['email.dead']);
      expect((await row(fine.id)).status).toBe('sent');
      // Not claimed again: nothing left to do.
      clock.advance(10 * 60_000);
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ dead: 0, sent: 0 });
    });

    it('dead-letters a message whose window passed while the scheduler was down', async () => {
      const c = await contact();
      const message = await enqueue(c.contactId, 'onboarding/first-steps', {
        expiresAt: new Date(clock.now().getTime() + 60 * 60_000),
      });
      const fresh = await enqueue(c.contactId, 'account/notice');
      clock.advance(6 * 60 * 60_000); // 17:00 JST: still inside sending hours
      expect(await worker(outbox()).runOnce(clock.now())).toMatchObject({ dead: 1, sent: 1 });
      expect(await row(message.id)).toMatchObject({ status: 'dead', status_reason: 'expired', attempts: 0 });
      expect((await row(fresh.id)).status).toBe('sent');
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
