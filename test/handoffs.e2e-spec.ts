import { type HandoffKind, type HandoffPriority, manualHandoff } from '../src/handoffs/handoff.types';
import { HandoffsService } from '../src/handoffs/handoffs.service';
import { SendWorker } from '../src/messaging/send/send.worker';
import { createScenarioHarness, type ScenarioHarness } from './support/scenario-harness';
import { testEngine } from './support/test-database';

const HOUR = 3_600_000;

/**
 * Handoffs raised by journeys: exactly one per account and reason, assigned to the owner or
 * the team queue, with the story, events and notification rows; advertising mail to the
 * account is held while it is open and flows after it is resolved; an unacknowledged one
 * escalates after its due time.
 */
describe(`handoffs (${testEngine()})`, () => {
  let h: ScenarioHarness;
  let handoffs: HandoffsService;

  beforeAll(async () => {
    h = await createScenarioHarness({
      HANDOFF_QUEUE: 'csm-q1,csm-q2',
      HANDOFF_LEAD: 'csm-lead',
      HANDOFF_NO_HOLD_REASONS: 'billing_question',
    });
    handoffs = h.t.app.get(HandoffsService);
    for (const [id, locale] of [
      ['csm-owner', 'ja'],
      ['csm-q1', 'en'],
      ['csm-q2', 'ja'],
      ['csm-lead', 'ja'],
    ] as const) {
      const r = await h.t.api('POST', '/api/csms', {
        externalId: id,
        name: id,
        email: `${id}@csm.example.com`,
        locale,
        ...(id === 'csm-owner' ? { notificationWebhookUrl: 'https://hooks.example.com/services/T/B/X' } : {}),
      });
      expect([r.status, r.body]).toEqual([201, expect.any(String)]);
    }
  });
  afterAll(() => h.close());

  /** A handoff raised by a person through the service (one transaction), as the API does. */
  const raiseFor = (
    accountId: string,
    reason: string,
    o: { kind: HandoffKind; priority: HandoffPriority; contactId: string | null },
  ) =>
    h.t.db.dataSource.transaction((m) =>
      handoffs.raise(
        m,
        manualHandoff({ accountId, contactId: o.contactId, reason, kind: o.kind, priority: o.priority }),
        h.t.clock.now(),
      ),
    );

  const stalled = `audience: { when: "account.attributes.cohort == 'handoff'" }
trigger: { event: { type: dashboard_created } }
entry: { once_per: contact }
steps:
  - id: wait-login
    wait_for: { event: login, timeout: 3d }
    on_timeout:
      - id: stalled
        handoff: { to: owner, reason: onboarding_stalled, priority: high, note: no login for 3 days }`;

  const rowsOf = (accountId: string) =>
    h.t.db.dataSource.query<
      { id: string; reason: string; status: string; repeats: number; csm: string | null; assigned_via: string }[]
    >(
      `SELECT h.id, h.reason, h.status, h.repeats, s.external_id AS csm, h.assigned_via
         FROM handoffs h LEFT JOIN csms s ON s.id = h.csm_id WHERE h.account_id = $1 ORDER BY h.created_at`,
      [accountId],
    );

  it('a journey whose wait_for times out raises exactly one handoff; a second trigger for the reason joins it', async () => {
    await h.scenario('stalled-handoff', stalled);
    const start = '2027-03-01T02:00:00.000Z'; // Monday 11:00 in Tokyo
    h.at(start);
    const accountId = await h.account('ho-owned', {
      attributes: { cohort: 'handoff' },
      ownerCsmExternalId: 'csm-owner',
      renewalDate: '2027-05-01',
    });
    await h.contact('ho-owned', 'ho-owned-admin');
    await h.contact('ho-owned', 'ho-owned-ops');
    await h.tick(['stalled-handoff']); // the event watermark
    await h.events('dashboard_created', 'ho-owned', 'ho-owned-admin');
    h.at(new Date(Date.parse(start) + 1000).toISOString());
    await h.tick(['stalled-handoff']);

    // Three days without a login: the wait times out and hands the account off, once.
    h.at(new Date(Date.parse(start) + 3 * 24 * HOUR + 2000).toISOString());
    await h.tick(['stalled-handoff']);
    await h.tick(['stalled-handoff']);
    let rows = await rowsOf(accountId);
    expect(rows).toEqual([
      expect.objectContaining({ reason: 'onboarding_stalled', status: 'open', repeats: 0, csm: 'csm-owner' }),
    ]);
    const handoff = (await handoffs.findOne(rows[0]!.id))!;
    expect(handoff).toMatchObject({
      kind: 'risk',
      priority: 'high',
      note: 'no login for 3 days',
      scenarioId: 'stalled-handoff',
      stepId: 'stalled',
      assignedVia: 'owner',
      holdsMail: true,
      // high: 4 hours to acknowledge
      dueAt: new Date(Date.parse(start) + 3 * 24 * HOUR + 2000 + 4 * HOUR),
      context: expect.objectContaining({
        account: expect.objectContaining({
          externalId: 'ho-owned',
          lifecycle: 'renewal',
          daysToRenewal: 58,
        }) as unknown,
        contact: expect.objectContaining({ externalId: 'ho-owned-admin' }) as unknown,
        usage: expect.any(Array) as unknown,
      }) as unknown,
    });
    // Notifications queued for the owner: mail and their webhook.
    const notifications = await h.t.db.dataSource.query<{ channel: string; purpose: string; status: string }[]>(
      `SELECT channel, purpose, status FROM handoff_notifications WHERE handoff_id = $1 ORDER BY channel`,
      [handoff.id],
    );
    expect(notifications).toEqual([
      { channel: 'email', purpose: 'created', status: 'pending' },
      { channel: 'webhook', purpose: 'created', status: 'pending' },
    ]);

    // Another contact stalls for the same reason: no second handoff, a repeat in its history.
    await h.events('dashboard_created', 'ho-owned', 'ho-owned-ops');
    h.at(new Date(Date.parse(start) + 3 * 24 * HOUR + 3000).toISOString());
    await h.tick(['stalled-handoff']);
    h.at(new Date(Date.parse(start) + 6 * 24 * HOUR + 4000).toISOString());
    await h.tick(['stalled-handoff']);
    rows = await rowsOf(accountId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ repeats: 1 });
    expect((await handoffs.historyOf(handoff.id)).map((e) => e.action)).toEqual(['created', 'repeated']);

    // The account's timeline has the event; scenarios and reports can use it.
    const timeline = (await h.t.api('GET', '/api/accounts/ho-owned/timeline')).json() as { items: { type: string }[] };
    expect(timeline.items.map((e) => e.type)).toContain('handoff.created');
  });

  it('an account without an owner goes to the team queue, round-robin', async () => {
    const picked: string[] = [];
    for (let i = 0; i < 3; i++) {
      const accountId = await h.account(`ho-queue-${i}`);
      await raiseFor(accountId, 'expansion_ready', { kind: 'expansion', priority: 'normal', contactId: null });
      const [row] = await rowsOf(accountId);
      expect(row).toMatchObject({ assigned_via: 'queue' });
      picked.push(row!.csm!);
    }
    expect(new Set(picked)).toEqual(new Set(['csm-q1', 'csm-q2']));
    expect(picked[0]).not.toBe(picked[1]);
    expect(picked[2]).toBe(picked[0]);
  });

  it('advertising mail to the account is held while a handoff is open and flows after it is resolved', async () => {
    const start = '2027-03-10T02:00:00.000Z'; // Wednesday 11:00 in Tokyo
    h.at(start);
    const accountId = await h.account('ho-hold', { ownerCsmExternalId: 'csm-owner' });
    const { contactId } = await h.contact('ho-hold', 'ho-hold-admin');
    const raise = (reason: string) =>
      raiseFor(accountId, reason, { kind: 'risk', priority: 'normal', contactId: contactId });
    const { id } = await raise('usage_collapsed');
    const send = async (key: string, template: string) => {
      const r = await h.t.api('POST', '/api/messages', {
        contactExternalId: 'ho-hold-admin',
        template,
        idempotencyKey: key,
      });
      expect([r.status, r.body]).toEqual([expect.any(Number), expect.any(String)]);
    };
    await send('hold-ad', 'low-usage/nudge');
    const worker = h.t.app.get(SendWorker);
    await worker.runOnce(h.t.clock.now());
    const status = async () =>
      (
        await h.t.db.dataSource.query<{ status: string; status_reason: string | null }[]>(
          `SELECT status, status_reason FROM messages WHERE contact_id = $1 ORDER BY created_at`,
          [contactId],
        )
      ).map((r) => `${r.status}:${r.status_reason ?? ''}`);
    expect(await status()).toEqual(['queued:handoff_hold']);

    // A handoff whose reason does not hold mail changes nothing; acknowledging still holds.
    await handoffs.acknowledge(id, 'csm-owner');
    h.t.clock.advance(60_000);
    await worker.runOnce(h.t.clock.now());
    expect(await status()).toEqual(['queued:handoff_hold']);

    // Resolved: the held mail is due at once and goes out.
    await handoffs.resolve(id, 'csm-owner', 'called the customer; training booked');
    await worker.runOnce(h.t.clock.now());
    expect((await status())[0]).toMatch(/^sent/);
    const events = await h.t.db.dataSource.query<{ type: string }[]>(
      `SELECT type FROM events WHERE account_id = $1 AND type LIKE 'handoff.%' ORDER BY id`,
      [accountId],
    );
    expect(events.map((e) => e.type)).toEqual(['handoff.created', 'handoff.acknowledged', 'handoff.resolved']);

    // A reason configured not to hold (HANDOFF_NO_HOLD_REASONS) lets mail flow while open.
    await raise('billing_question');
    await send('hold-ad-2', 'low-usage/help-offer');
    await worker.runOnce(h.t.clock.now());
    expect((await status())[1]).toMatch(/^sent/);

    // A CSM pauses tech-touch by hand: held until resumed.
    await handoffs.pauseTechTouch(accountId, new Date(h.t.clock.now().getTime() + 7 * 24 * HOUR), 'renewal talks');
    await send('hold-ad-3', 'low-usage/nudge');
    await worker.runOnce(h.t.clock.now());
    expect((await status())[2]).toBe('queued:tech_touch_paused');
    await handoffs.pauseTechTouch(accountId, null, null);
    await worker.runOnce(h.t.clock.now());
    expect((await status())[2]).toMatch(/^sent/);
  });

  it('scenarios can test account.open_handoffs: an account a person is on does not enroll until resolved', async () => {
    h.at('2027-03-12T02:00:00.000Z');
    await h.scenario(
      'quiet-while-handled',
      `audience: { when: "account.attributes.cohort == 'oh' and account.open_handoffs == 0" }
trigger:
  condition: { when: account.contacts >= 1, check: every 1h }
steps:
  - { id: tip, send: low-usage/nudge }`,
    );
    const handled = await h.account('oh-handled', { attributes: { cohort: 'oh' } });
    await h.account('oh-free', { attributes: { cohort: 'oh' } });
    await h.contact('oh-handled', 'oh-handled-admin');
    await h.contact('oh-free', 'oh-free-admin');
    const { id } = await raiseFor(handled, 'renewal_risk', { kind: 'risk', priority: 'normal', contactId: null });
    await h.tick(['quiet-while-handled']);
    expect((await h.enrollments('quiet-while-handled')).map((r) => r.subject)).toEqual(['oh-free-admin']);
    await handoffs.resolve(id, 'csm-owner', 'renewal signed');
    h.t.clock.advance(HOUR);
    await h.tick(['quiet-while-handled']);
    expect((await h.enrollments('quiet-while-handled')).map((r) => r.subject).sort()).toEqual([
      'oh-free-admin',
      'oh-handled-admin',
    ]);
  });

  it('an unacknowledged handoff escalates once after its due time, to the CSM again and the lead', async () => {
    h.at('2027-03-15T02:00:00.000Z');
    await handoffs.escalateOverdue(); // earlier tests' handoffs, long overdue
    const accountId = await h.account('ho-sla', { ownerCsmExternalId: 'csm-owner' });
    const { id } = await raiseFor(accountId, 'champion_left', { kind: 'risk', priority: 'urgent', contactId: null });
    h.t.clock.advance(59 * 60_000);
    expect(await handoffs.escalateOverdue()).toBe(0);
    h.t.clock.advance(2 * 60_000); // urgent: 1 hour to acknowledge
    expect(await handoffs.escalateOverdue()).toBe(1);
    expect(await handoffs.escalateOverdue()).toBe(0);
    const escalations = await h.t.db.dataSource.query<{ csm: string; channel: string }[]>(
      `SELECT s.external_id AS csm, n.channel FROM handoff_notifications n JOIN csms s ON s.id = n.csm_id
        WHERE n.handoff_id = $1 AND n.purpose = 'escalated' ORDER BY 1, 2`,
      [id],
    );
    expect(escalations).toEqual([
      { csm: 'csm-lead', channel: 'email' },
      { csm: 'csm-owner', channel: 'email' },
      { csm: 'csm-owner', channel: 'webhook' },
    ]);
    expect((await handoffs.findOne(id))!).toMatchObject({ escalations: 1, status: 'open' });
    const types = await h.t.db.dataSource.query<{ type: string }[]>(
      `SELECT type FROM events WHERE account_id = $1 ORDER BY id`,
      [accountId],
    );
    expect(types.map((t) => t.type)).toEqual(['handoff.created', 'handoff.escalated']);
  });
});
