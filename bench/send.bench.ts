import { generateAccountsNdjson, generateContactsNdjson, generatedAccountIds } from '../test/support/generate-rows';
import { startSmtpServer } from '../test/support/smtp-server';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import DKIM from 'nodemailer/lib/dkim';
import { ManualClock } from '../src/common/clock';
import { buildMime } from '../src/messaging/send/mime-builder';
import { SmtpTransport } from '../src/messaging/send/transports/smtp.transport';
import { buildMessageIdHeader, type OutgoingMail } from '../src/messaging/send/outgoing-mail';
import { TemplateRenderer } from '../src/messaging/templates/template-renderer';
import type { RenderRequest } from '../src/messaging/messaging.contracts';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
import { api, createTarget, perSecond, startOn, stopTend } from './bench-support';

export interface SendFigures {
  template: string;
  htmlBytes: number;
  /** Handlebars + link rewriting + pixel + text part, one core. */
  rendersPerSecond: number;
  /** buildMime alone (base64 parts), one core. */
  mimePerSecond: number;
  /** Render + MIME: what one core prepares for the transport. */
  renderAndMimePerSecond: number;
  /** Render + MIME + DKIM signature (RSA 2048), one core. */
  renderMimeDkimPerSecond: number;
  inProcessMessages: number;
  /** Render + MIME + SmtpTransport (pool of `smtpConnections`) into a local smtp-server; no database. */
  sendPath: { messages: number; ms: number; messagesPerSecond: number; smtpConnections: number };
  /** Queued rows in PostgreSQL -> a Tend worker process -> SMTP pool -> local smtp-server, all received. */
  endToEnd: { engine: 'postgres'; messages: number; ms: number; messagesPerSecond: number; smtpConnections: number };
}

const FROM = 'Acme カスタマーサクセス <cs@acme.example>';

function request(i: number): RenderRequest {
  return {
    template: 'onboarding/first-steps',
    locale: i % 2 === 0 ? 'ja' : 'en',
    messageId: randomUUID(),
    recipient: {
      contactId: randomUUID(),
      externalId: `c-${i}`,
      name: `山田 花子${i}`,
      email: `person${i}@customer.example`,
      timeZone: 'Asia/Tokyo',
      roles: ['admin'],
      attributes: {},
    },
    account: {
      accountId: randomUUID(),
      externalId: `a-${i}`,
      name: '株式会社サンプル商事',
      plan: 'Business',
      renewalDate: '2027-03-31',
      attributes: {},
    },
    data: {},
    tracking: { opens: true, clicks: true },
  };
}

function timed(n: number, fn: (i: number) => void): number {
  const started = performance.now();
  for (let i = 0; i < n; i += 1) fn(i);
  return perSecond(n, performance.now() - started);
}

async function timedAsync(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i += 1) await fn(i);
  return perSecond(n, performance.now() - started);
}

function dkimSign(dkim: DKIM, raw: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const out = dkim.sign(Readable.from([raw]));
    out.on('data', (c: Buffer) => chunks.push(c));
    out.on('end', () => resolve(Buffer.concat(chunks)));
    out.on('error', reject);
  });
}

/** One core: the real renderer over the real `templates/`, then the MIME builder, then DKIM. */
async function benchInProcess(n: number, smtpConnections: number): Promise<Omit<SendFigures, 'endToEnd'>> {
  const renderer = new TemplateRenderer(
    {
      http: { publicBaseUrl: 'https://tend.acme.example' },
      mail: {
        sender: { name: '株式会社アクメ', postalAddress: '東京都千代田区丸の内1-1-1', contact: 'cs@acme.example' },
      },
      defaults: { locale: 'ja', timeZone: 'Asia/Tokyo' },
    },
    new TrackingTokenSigner({ keys: [{ kid: 'k1', secret: 'b'.repeat(48), retiredAt: null }], gracePeriodMs: 0 }),
    new ManualClock(new Date('2026-11-18T02:00:00Z')),
    { dir: join(process.cwd(), 'templates') },
  );
  renderer.load();
  await renderer.warmUp();
  const mailOf = async (i: number): Promise<OutgoingMail> => {
    const r = request(i);
    const m = await renderer.render(r);
    return {
      messageId: r.messageId,
      messageIdHeader: buildMessageIdHeader(r.messageId, FROM),
      from: FROM,
      to: r.recipient.email,
      subject: m.subject,
      html: m.html,
      text: m.text,
      date: new Date(),
      unsubscribeUrl: m.unsubscribeUrl,
      unsubscribeMailto: 'unsubscribe@acme.example',
      oneClick: m.kind === 'advertising',
    };
  };
  const sample = await mailOf(0);
  for (let i = 0; i < 500; i += 1) buildMime(await mailOf(i)); // warm up
  const rendersPerSecond = await timedAsync(n, (i) => renderer.render(request(i)));
  const mimePerSecond = timed(n, () => buildMime(sample));
  const renderAndMimePerSecond = await timedAsync(n, async (i) => buildMime(await mailOf(i)));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkim = new DKIM({
    domainName: 'acme.example',
    keySelector: 'tend',
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
  const dkimN = Math.max(200, Math.floor(n / 4));
  const renderMimeDkimPerSecond = await timedAsync(dkimN, async (i) => dkimSign(dkim, buildMime(await mailOf(i))));

  // The send path without the queue: render, MIME and SMTP through the transport's pool, 16 in flight.
  const smtp = await startSmtpServer();
  const transport = new SmtpTransport({ url: smtp.url, poolSize: smtpConnections });
  let sendPath: SendFigures['sendPath'];
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) await transport.send(await mailOf(next++));
      }),
    );
    const ms = performance.now() - started;
    if (smtp.received.length !== n) throw new Error(`smtp server received ${smtp.received.length} of ${n}`);
    sendPath = { messages: n, ms: Math.round(ms), messagesPerSecond: perSecond(n, ms), smtpConnections };
  } finally {
    await transport.close();
    await smtp.close();
  }
  return {
    template: 'onboarding/first-steps (ja/en alternating, opens and clicks tracked)',
    htmlBytes: Buffer.byteLength(sample.html),
    rendersPerSecond,
    mimePerSecond,
    renderAndMimePerSecond,
    renderMimeDkimPerSecond,
    inProcessMessages: n,
    sendPath,
  };
}

/**
 * A real Tend process (ROLE=all, MAIL_TRANSPORT=smtp, SMTP_POOL_SIZE connections) on a fresh
 * PostgreSQL database; `messages` advertising rows are inserted as due, and the clock runs
 * until the local smtp-server has received every one of them.
 */
async function benchEndToEnd(messages: number, smtpConnections: number): Promise<SendFigures['endToEnd']> {
  const smtp = await startSmtpServer();
  const target = await createTarget('postgres', {
    MAIL_TRANSPORT: 'smtp',
    SMTP_URL: smtp.url,
    SMTP_POOL_SIZE: String(smtpConnections),
    MAIL_RATE_PER_SECOND: '10000',
    MAIL_FROM: FROM,
    QUIET_HOURS: '00:00-00:00',
    BUSINESS_DAYS: 'mon,tue,wed,thu,fri,sat,sun',
    CAP_ADVERTISING_PER_ACCOUNT_DAY: '10000',
  });
  // The api role loads the contacts; the worker starts after the rows are queued.
  const loader = await startOn(target);
  try {
    const accounts = generatedAccountIds(1000);
    await api(loader, 'POST', '/api/accounts/import', generateAccountsNdjson(1000), 'application/x-ndjson');
    const imported = await api(
      loader,
      'POST',
      '/api/contacts/import',
      generateContactsNdjson(messages, accounts),
      'application/x-ndjson',
    );
    if (imported.status !== 200) throw new Error(`contact import failed: ${JSON.stringify(imported.json)}`);
  } finally {
    await stopTend(loader);
  }
  await target.sql(`UPDATE contacts SET consent_basis = 'existing_relationship' WHERE consent_basis IS NULL`);
  await target.sql(
    `INSERT INTO messages (id, intent_key, contact_id, account_id, template, locale, kind, topic, status, due_at)
     SELECT gen_random_uuid(), 'bench:' || c.id, c.id, c.account_id, 'onboarding/first-steps', COALESCE(c.locale, 'ja'),
            'advertising', 'product_tips', 'queued', now() FROM contacts c`,
  );
  const worker = await startOn(target, { ROLE: 'worker', LOG_LEVEL: 'info' });
  try {
    const started = performance.now();
    while (smtp.received.length < messages) {
      if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
      if (performance.now() - started > 600_000) throw new Error(`only ${smtp.received.length} of ${messages} sent`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - started;
    const runs = worker
      .output()
      .split('\n')
      .filter((line) => line.includes('"send worker run"'));
    console.log(`worker: ${runs.length} runs; last: ${runs.at(-1) ?? '(none)'}`);
    const [counts] = await target.sql<{ sent: string }>(
      `SELECT count(*) FILTER (WHERE status = 'sent') AS sent FROM messages`,
    );
    if (Number(counts?.sent) !== messages) throw new Error(`sent rows ${counts?.sent} != ${messages}`);
    return {
      engine: 'postgres',
      messages,
      ms: Math.round(ms),
      messagesPerSecond: perSecond(messages, ms),
      smtpConnections,
    };
  } finally {
    await stopTend(worker);
    await target.dispose();
    await smtp.close();
  }
}

export async function benchSend(inProcess = 5000, endToEnd = 5000, smtpConnections = 2): Promise<SendFigures> {
  const local = await benchInProcess(inProcess, smtpConnections);
  console.log(local);
  const e2e = await benchEndToEnd(endToEnd, smtpConnections);
  return { ...local, endToEnd: e2e };
}
