import { HandoffNotifier } from '../src/handoffs/notifications/handoff-notifier';
import { createScenarioHarness, type ScenarioHarness } from './support/scenario-harness';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server';
import { testEngine } from './support/test-database';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const DAY = 86_400_000;

/**
 * End to end: a journey whose wait_for times out hands the account to its CSM, who is told
 * once by mail (through a real SMTP server process) and by webhook (a local HTTP server);
 * the same reason raised again by another contact's journey tells nobody twice.
 */
describe(`a journey hands off to the CSM, notified by mail and webhook (${testEngine()})`, () => {
  let smtp: TestSmtpServer;
  let hooks: WebhookReceiver;
  let h: ScenarioHarness;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    hooks = await startWebhookReceiver();
    h = await createScenarioHarness({
      MAIL_TRANSPORT: 'smtp',
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Tend <cs@tend.example>',
      PUBLIC_BASE_URL: 'https://tend.example',
      OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${hooks.port}`,
    });
    // Stored directly: the admin API accepts only https webhooks; the test receiver is http on loopback.
    await h.t.db.dataSource.query(
      `INSERT INTO csms (external_id, name, email, locale, notification_webhook_url) VALUES ($1, $2, $3, 'ja', $4)`,
      ['csm-sato', '佐藤', 'sato@csm.example.com', hooks.url('/hooks/sato')],
    );
  });
  afterAll(async () => {
    await h?.close();
    await hooks?.close();
    await smtp?.close();
  });

  it('one handoff, one mail and one webhook post to the owner; a repeat notifies nobody again', async () => {
    await h.scenario(
      'stall-notify',
      `trigger: { event: { type: dashboard_created } }
steps:
  - id: wait-login
    wait_for: { event: login, timeout: 3d }
    on_timeout:
      - { id: stalled, handoff: { to: owner, reason: onboarding_stalled, priority: high } }`,
    );
    const start = Date.parse('2027-04-05T02:00:00.000Z');
    h.at(new Date(start).toISOString());
    await h.account('hj-acct', { name: '株式会社サンプル', ownerCsmExternalId: 'csm-sato' });
    await h.contact('hj-acct', 'hj-admin');
    await h.contact('hj-acct', 'hj-ops');
    await h.tick(['stall-notify']);
    await h.events('dashboard_created', 'hj-acct', 'hj-admin');
    await h.events('dashboard_created', 'hj-acct', 'hj-ops');
    h.at(new Date(start + 1000).toISOString());
    await h.tick(['stall-notify']);

    const notifier = h.t.app.get(HandoffNotifier);
    h.at(new Date(start + 3 * DAY + 2000).toISOString());
    const began = performance.now();
    await h.tick(['stall-notify']); // both journeys time out: one handoff, one repeat
    await notifier.deliverDue();
    const took = performance.now() - began;
    console.log(`[figure] wait_for timeout -> handoff -> CSM mail + webhook delivered: ${took.toFixed(0)} ms`);

    const handoffs = await h.t.db.dataSource.query<{ repeats: number; status: string }[]>(
      `SELECT repeats, status FROM handoffs`,
    );
    expect(handoffs).toEqual([{ repeats: 1, status: 'open' }]);
    const toCsm = smtp.received.filter((m) => m.to.includes('sato@csm.example.com'));
    expect(toCsm).toHaveLength(1);
    expect(toCsm[0]!.raw.toString('utf8')).toMatch(/Subject: /);
    expect(hooks.received.filter((x) => x.path === '/hooks/sato')).toHaveLength(1);
    expect(JSON.stringify(hooks.received[0]!.body)).toMatch(/株式会社サンプル.*csm\/handoffs\//);

    // The link the CSM got opens their handoff page (signed for them), with the story.
    const link = /https:\/\/tend\.example(\/csm\/handoffs\/[0-9a-f-]+\?[^"\\>|]+)/.exec(
      JSON.stringify(hooks.received[0]!.body),
    );
    expect(link).not.toBeNull();
    const page = await h.t.app.inject({ method: 'GET', url: link![1]! });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('株式会社サンプル');
    expect((await h.t.app.inject({ method: 'GET', url: link![1]!.replace(/t=[^&]+/, 't=forged') })).statusCode).toBe(
      401,
    );

    // Later passes send nothing more.
    h.t.clock.advance(60_000);
    await notifier.deliverDue();
    expect(smtp.received.filter((m) => m.to.includes('sato@csm.example.com'))).toHaveLength(1);
    expect(hooks.received).toHaveLength(1);
  });
});
