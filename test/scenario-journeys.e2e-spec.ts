import { assignVariant } from '../src/scenarios/core/runtime/planner';
import { createScenarioHarness, type ScenarioHarness } from './support/scenario-harness';
import { testEngine } from './support/test-database';

/**
 * Whole journeys on a virtual clock: triggers, entry policy, goals, exits, holdouts, moved
 * dates and a worker that was down, as a worker would run them (one tick = trigger scans,
 * goal scan, due steps), on the embedded engine and on PostgreSQL.
 */
describe(`scenario journeys on a virtual clock (${testEngine()})`, () => {
  let h: ScenarioHarness;

  beforeAll(async () => {
    h = await createScenarioHarness();
  });
  afterAll(() => h.close());

  /** Only this test's accounts match its scenarios (scenarios of other tests stay loaded). */
  const cohort = (name: string) => `audience: { when: "account.attributes.cohort == '${name}'" }`;
  const day = (iso: string, days: number) => new Date(new Date(iso).getTime() + days * 86_400_000).toISOString();

  it('again_after re-enters a subject only once the cooldown since its previous entry is over', async () => {
    await h.scenario(
      'reentry-cooldown',
      `${cohort('reentry')}
trigger:
  condition: { when: contact.logins_7d == 0, check: daily at 09:00 }
entry: { again_after: 30d, per: contact }
steps:
  - { id: nudge, send: low-usage/nudge }
  - { id: pause, wait: 7d }
  - { id: help, send: low-usage/help-offer }`,
    );
    const start = '2026-12-01T01:00:00.000Z'; // Tuesday 10:00 in Tokyo
    h.at(start);
    await h.account('rx-acct', { attributes: { cohort: 'reentry' } });
    await h.contact('rx-acct', 'rx-idle');
    await h.contact('rx-acct', 'rx-late');
    await h.events('login', 'rx-acct', 'rx-late'); // rx-late is active until its logins age out
    expect((await h.tick(['reentry-cooldown'])).conditions.get('reentry-cooldown')).toBe(1);

    // Every daily check runs; rx-idle still matches but is cooling down, rx-late enters on its own day.
    for (let d = 1; d <= 29; d++) {
      h.at(day(start, d));
      const ran = await h.tick(['reentry-cooldown']);
      expect(ran.conditions.get('reentry-cooldown')).toBe(d === 7 ? 1 : 0);
    }
    // Scan times jitter: day 30's check runs 20 seconds earlier in the day than day 0's did,
    // and the contact still re-enters on day 30, not on day 31.
    const day30 = new Date(new Date(day(start, 30)).getTime() - 20_000).toISOString();
    h.at(day30);
    expect((await h.tick(['reentry-cooldown'])).conditions.get('reentry-cooldown')).toBe(1);

    const rows = await h.enrollments('reentry-cooldown');
    expect(rows.map((r) => [r.subject, r.entered_at.toISOString(), r.state])).toEqual([
      ['rx-idle', start, 'completed'],
      ['rx-late', day(start, 7), 'completed'],
      ['rx-idle', day30, 'active'], // 30 days after its first entry, not a day before or after
    ]);
    expect(await h.sent('rx-idle')).toEqual(['low-usage/nudge', 'low-usage/help-offer', 'low-usage/nudge']);
    // rx-late's own cooldown runs from its own entry (day 7): not again on day 30.
    expect(await h.sent('rx-late')).toEqual(['low-usage/nudge', 'low-usage/help-offer']);
  });

  it('an event trigger whose audience reads usage counts the triggering event itself', async () => {
    await h.scenario(
      'usage-audience',
      `audience: { when: "account.attributes.cohort == 'usage-audience' and account.logins_7d >= 1" }
trigger:
  event: { type: login }
entry: { once_per: contact }
steps:
  - { id: hello, send: onboarding/welcome }`,
    );
    h.at('2026-12-01T01:00:00.000Z');
    await h.account('ua-acct', { attributes: { cohort: 'usage-audience' } });
    await h.contact('ua-acct', 'ua-first');
    // The account's first login ever: the audience holds only once that login is in the rollups.
    await h.events('login', 'ua-acct', 'ua-first');
    expect((await h.tick(['usage-audience'])).events.get('usage-audience')).toBe(1);
    expect(await h.sent('ua-first')).toEqual(['onboarding/welcome']);
  });

  it('a goal met mid-journey converts it at once; exit_when ends a journey before its next step', async () => {
    await h.scenario(
      'goal-and-exit',
      `${cohort('goal-exit')}
trigger: { event: { type: dashboard_created } }
goal: { when: contact.logins_7d >= 3, within: 30d }
exit_when: contact.attributes.paused == true
steps:
  - { id: welcome, send: onboarding/welcome }
  - { id: pause-1, wait: 2d }
  - { id: tips, send: onboarding/first-steps }
  - { id: pause-2, wait: 3d }
  - { id: reminder, send: onboarding/first-steps-reminder }`,
    );
    const start = '2027-01-05T01:00:00.000Z';
    h.at(start);
    await h.account('ge-acct', { attributes: { cohort: 'goal-exit' } });
    for (const c of ['ge-converts', 'ge-pauses', 'ge-control']) await h.contact('ge-acct', c);
    await h.tick(['goal-and-exit']); // the event watermark
    for (const c of ['ge-converts', 'ge-pauses', 'ge-control']) await h.events('dashboard_created', 'ge-acct', c);
    h.at(day(start, 0.001));
    expect((await h.tick(['goal-and-exit'])).events.get('goal-and-exit')).toBe(3);

    // A day later: one contact reaches the goal, another is paused by the CS team.
    const converted = day(start, 1);
    h.at(converted);
    await h.events('login', 'ge-acct', 'ge-converts', 3);
    const paused = await h.t.api('PATCH', '/api/contacts/ge-pauses', { attributes: { paused: true } });
    expect(paused.status).toBe(200);
    expect((await h.tick(['goal-and-exit'])).goals.get('goal-and-exit')).toBe(1);

    // The end of the first wait: the paused contact leaves before `tips`; the control goes on.
    const waitOver = day(start, 2.001);
    for (const d of [2.001, 5.002, 10]) {
      h.at(day(start, d));
      await h.tick(['goal-and-exit']);
    }
    const rows = await h.enrollments('goal-and-exit');
    const bySubject = Object.fromEntries(
      rows.map((r) => [
        r.subject,
        [r.state, r.exit_reason, r.converted_at?.toISOString() ?? null, r.ended_at?.toISOString() ?? null],
      ]),
    );
    expect(bySubject).toEqual({
      'ge-converts': ['converted', 'goal', converted, converted],
      'ge-pauses': ['exited', 'exit_when', null, waitOver],
      'ge-control': ['completed', null, null, day(start, 5.002)],
    });
    expect(await h.sent('ge-converts')).toEqual(['onboarding/welcome']);
    expect(await h.sent('ge-pauses')).toEqual(['onboarding/welcome']);
    expect(await h.sent('ge-control')).toEqual([
      'onboarding/welcome',
      'onboarding/first-steps',
      'onboarding/first-steps-reminder',
    ]);
  });

  it('a holdout receives nothing, is recorded as variant holdout, and its conversions within the goal window count', async () => {
    const variants = [
      { name: 'a', weight: 50 },
      { name: 'b', weight: 50 },
    ];
    await h.scenario(
      'holdout-lift',
      `${cohort('holdout')}
trigger: { event: { type: dashboard_created } }
goal: { when: contact.logins_7d >= 2, within: 14d }
steps:
  - id: offer
    split:
      holdout: 30
      variants:
        - name: a
          weight: 50
          steps:
            - { id: tips-a, send: onboarding/first-steps }
            - { id: measure-a, wait: 14d }
        - name: b
          weight: 50
          steps:
            - { id: tips-b, send: onboarding/case-study }
            - { id: measure-b, wait: 14d }`,
    );
    const start = '2027-01-20T01:00:00.000Z';
    h.at(start);
    await h.account('ho-acct', { attributes: { cohort: 'holdout' } });
    // Contacts until every group has at least three (assignment is deterministic per subject).
    const groups = new Map<string, string[]>([
      ['holdout', []],
      ['a', []],
      ['b', []],
    ]);
    for (let i = 0; i < 12 || [...groups.values()].some((g) => g.length < 3); i++) {
      expect(i).toBeLessThan(200);
      const { contactId } = await h.contact('ho-acct', `ho-${i}`);
      groups.get(assignVariant('holdout-lift', 'offer', contactId, variants, 30))!.push(`ho-${i}`);
    }
    const everyone = [...groups.values()].flat();
    await h.tick(['holdout-lift']); // the event watermark
    for (const c of everyone) await h.events('dashboard_created', 'ho-acct', c);
    h.at(day(start, 0.001));
    expect((await h.tick(['holdout-lift'])).events.get('holdout-lift')).toBe(everyone.length);

    // Day 3: the first of each group reaches the goal. Day 15: a second holdout does, too late.
    h.at(day(start, 3));
    const converters = [...groups.values()].map((g) => g[0]!);
    for (const c of converters) await h.events('login', 'ho-acct', c, 2);
    await h.tick(['holdout-lift']);
    h.at(day(start, 14.01));
    await h.tick(['holdout-lift']);
    h.at(day(start, 15));
    await h.events('login', 'ho-acct', groups.get('holdout')![1]!, 2);
    await h.tick(['holdout-lift']);

    // Held-out contacts got nothing; the others got their variant's mail once.
    for (const c of groups.get('holdout')!) expect(await h.sent(c)).toEqual([]);
    for (const c of groups.get('a')!) expect(await h.sent(c)).toEqual(['onboarding/first-steps']);
    for (const c of groups.get('b')!) expect(await h.sent(c)).toEqual(['onboarding/case-study']);

    // The lift report: entered and converted per variant, holdout included.
    const report: { variant: string; entered: number; converted: number }[] = await h.t.db.dataSource.query(
      `SELECT variant, count(*)::int AS entered, count(converted_at)::int AS converted
         FROM enrollments WHERE scenario_id = 'holdout-lift' GROUP BY variant ORDER BY variant`,
    );
    expect(report).toEqual(
      ['a', 'b', 'holdout'].map((v) => ({ variant: v, entered: groups.get(v)!.length, converted: 1 })),
    );
    const outcomes = new Map((await h.enrollments('holdout-lift')).map((r) => [r.subject, r]));
    const heldOut = groups.get('holdout')!;
    expect(outcomes.get(heldOut[0]!)).toMatchObject({
      state: 'converted',
      variant: 'holdout',
      exit_reason: 'goal',
      converted_at: new Date(day(start, 3)),
    });
    // The rest of the holdout leave when the goal window ends (the late converter too).
    for (const c of heldOut.slice(1)) {
      expect(outcomes.get(c)).toMatchObject({ state: 'exited', exit_reason: 'holdout', converted_at: null });
    }
    for (const v of ['a', 'b']) {
      for (const c of groups.get(v)!.slice(1)) expect(outcomes.get(c)).toMatchObject({ state: 'completed' });
    }
    // Every assignment is recorded as an effect, held-out ones included.
    const assigned: { variant: string; n: number }[] = await h.t.db.dataSource.query(
      `SELECT f.payload->>'variant' AS variant, count(*)::int AS n FROM enrollment_effects f
         JOIN enrollments e ON e.id = f.enrollment_id
        WHERE e.scenario_id = 'holdout-lift' AND f.kind = 'assign' GROUP BY 1 ORDER BY 1`,
    );
    expect(assigned).toEqual(['a', 'b', 'holdout'].map((v) => ({ variant: v, n: groups.get(v)!.length })));
  });

  it('a goal reached after a short journey ended still counts within its window; past the window nothing is woken or counted', async () => {
    await h.scenario(
      'goal-window',
      `${cohort('goal-window')}
trigger: { event: { type: dashboard_created } }
goal: { when: contact.logins_7d >= 2, within: 7d }
steps:
  - id: offer
    split:
      variants:
        - { name: short, weight: 50, steps: [{ id: tip, send: onboarding/first-steps }] }
        - { name: long, weight: 50, steps: [{ id: tip-long, send: onboarding/case-study }, { id: linger, wait: 60d }] }`,
    );
    const variants = [
      { name: 'short', weight: 50 },
      { name: 'long', weight: 50 },
    ];
    const start = '2027-02-01T01:00:00.000Z';
    h.at(start);
    await h.account('gw-acct', { attributes: { cohort: 'goal-window' } });
    const groups = new Map<string, string[]>([
      ['short', []],
      ['long', []],
    ]);
    for (let i = 0; [...groups.values()].some((g) => g.length < 2); i++) {
      expect(i).toBeLessThan(100);
      const { contactId } = await h.contact('gw-acct', `gw-${i}`);
      groups.get(assignVariant('goal-window', 'offer', contactId, variants, 0))!.push(`gw-${i}`);
    }
    const everyone = [...groups.values()].flat();
    await h.tick(['goal-window']); // the event watermark
    for (const c of everyone) await h.events('dashboard_created', 'gw-acct', c);
    h.at(day(start, 0.001));
    await h.tick(['goal-window']);
    const [shortIn, shortLate] = groups.get('short')!;
    const [longIn, longLate] = groups.get('long')!;
    // The short journey is over at once (completed); the long one waits 60 days.
    expect((await h.enrollments('goal-window')).find((r) => r.subject === shortIn)).toMatchObject({
      state: 'completed',
    });

    // Day 3: one of each reaches the goal: both count (the completed one too, as the holdout would).
    h.at(day(start, 3));
    for (const c of [shortIn!, longIn!]) await h.events('login', 'gw-acct', c, 2);
    await h.tick(['goal-window']);
    // Day 10: the others reach it, past the 7-day window: the waiting one is not woken, nothing counts.
    h.at(day(start, 10));
    for (const c of [shortLate!, longLate!]) await h.events('login', 'gw-acct', c, 2);
    const late = await h.tick(['goal-window']);
    expect(late.goals.get('goal-window')).toBe(0);

    const rows = new Map((await h.enrollments('goal-window')).map((r) => [r.subject, r]));
    expect(rows.get(shortIn!)).toMatchObject({ state: 'completed', converted_at: new Date(day(start, 3)) });
    expect(rows.get(longIn!)).toMatchObject({ state: 'converted', converted_at: new Date(day(start, 3)) });
    expect(rows.get(shortLate!)).toMatchObject({ state: 'completed', converted_at: null });
    expect(rows.get(longLate!)).toMatchObject({ state: 'active', converted_at: null });
  });

  it('a renewal date moved mid-window ends the old occurrence; the new date enrolls on its own days', async () => {
    const journey = (to: string) => `steps:
  - { id: notice, send: renewal/renewal-notice${to} }
  - { id: settle, wait: 25d }
  - { id: follow-up, send: renewal/value-review${to} }`;
    const trigger = `trigger:
  date: { fact: account.renewal_date, offsets: [-90d, -60d, -30d], at: '10:00' }`;
    await h.scenario(
      'renewal-moves',
      `subject: account\n${cohort('renewal')}\n${trigger}\nentry: { again_after: 20d, per: account }\n${journey(', to: { role: operator }')}`,
    );
    // The same journey per contact: each contact's own day, in the contact's time zone.
    await h.scenario(
      'renewal-moves-contacts',
      `${cohort('renewal')}\n${trigger}\nentry: { again_after: 20d, per: contact }\n${journey('')}`,
    );
    // Once per account (one offset: the validator refuses more): the enrollment has no
    // occurrence, so a moved date does not end it, and the new date does not enter again.
    await h.scenario(
      'renewal-once',
      `subject: account\n${cohort('renewal')}\n${trigger.replace('-90d, -60d, -30d', '-90d')}\nentry: { once_per: account }\n${journey(', to: { role: operator }')}`,
    );
    const all = ['renewal-moves', 'renewal-moves-contacts', 'renewal-once'];
    h.at('2026-12-30T01:00:00.000Z');
    for (const a of ['rm-month', 'rm-year', 'rm-same']) {
      await h.account(a, { renewalDate: '2027-03-31', attributes: { cohort: 'renewal' } });
      await h.contact(a, `${a}-op`, { roles: ['operator'], timeZone: 'Asia/Tokyo' });
    }
    await h.contact('rm-month', 'rm-month-la', { roles: ['operator'], timeZone: 'America/Los_Angeles' });
    const keys = async (scenarioId: string) =>
      (await h.enrollments(scenarioId)).map((r) => `${r.subject} ${r.occurrence_key || '(once)'} ${r.state}`).sort();

    // 2026-12-30 17:00 in Los Angeles (already the 31st in Tokyo): nobody's day yet.
    h.at('2026-12-31T01:00:00.000Z'); // 10:00 Tokyo on the 31st: 90 days before 2027-03-31
    const tokyo = await h.tick(all);
    expect(tokyo.dates).toEqual(
      new Map([
        ['renewal-moves', 3],
        ['renewal-moves-contacts', 3],
        ['renewal-once', 3],
      ]),
    );
    h.at('2026-12-31T18:00:00.000Z'); // 10:00 in Los Angeles on the 31st
    expect((await h.tick(all)).dates.get('renewal-moves-contacts')).toBe(1);
    const ninety = 'account.renewal_date:-90d:2027-03-31';
    expect(await keys('renewal-moves-contacts')).toEqual(
      ['rm-month-la', 'rm-month-op', 'rm-same-op', 'rm-year-op'].map((c) => `${c} ${ninety} active`),
    );

    // 2027-01-05: rm-month's renewal moves a month later, rm-year renews for a year.
    h.at('2027-01-05T01:00:00.000Z');
    for (const [a, date] of [
      ['rm-month', '2027-04-30'],
      ['rm-year', '2028-03-31'],
    ] as const) {
      expect((await h.t.api('PATCH', `/api/accounts/${a}`, { renewalDate: date })).status).toBe(200);
    }
    await h.tick(all);
    expect(await keys('renewal-moves')).toEqual([
      `rm-month ${ninety} exited`,
      `rm-same ${ninety} active`,
      `rm-year ${ninety} exited`,
    ]);
    expect(await keys('renewal-moves-contacts')).toEqual([
      `rm-month-la ${ninety} exited`,
      `rm-month-op ${ninety} exited`,
      `rm-same-op ${ninety} active`,
      `rm-year-op ${ninety} exited`,
    ]);
    const exited = (await h.enrollments('renewal-moves')).filter((r) => r.state === 'exited');
    expect(exited.map((r) => [r.exit_reason, r.ended_at?.toISOString()])).toEqual([
      ['occurrence_moved', '2027-01-05T01:00:00.000Z'],
      ['occurrence_moved', '2027-01-05T01:00:00.000Z'],
    ]);
    expect((await keys('renewal-once')).every((k) => k.endsWith('(once) active'))).toBe(true);

    // The follow-ups 25 days later: only for occurrences that still stand (and once-per journeys).
    h.at('2027-01-25T01:00:00.000Z');
    await h.tick(all);
    h.at('2027-01-25T18:00:00.000Z');
    await h.tick(all);
    expect(await h.sent('rm-same-op')).toEqual([
      ...['renewal/renewal-notice', 'renewal/renewal-notice', 'renewal/renewal-notice'],
      ...['renewal/value-review', 'renewal/value-review', 'renewal/value-review'],
    ]);
    expect(await h.sent('rm-month-op')).toEqual([
      ...['renewal/renewal-notice', 'renewal/renewal-notice', 'renewal/renewal-notice'],
      'renewal/value-review', // renewal-once
    ]);
    // rm-month's second operator, in Los Angeles: both account journeys mail operators.
    expect(await h.sent('rm-month-la')).toEqual(await h.sent('rm-month-op'));

    // 2027-01-30 is 90 days before the new date, and would have been 60 days before the old one.
    h.at('2027-01-30T00:30:00.000Z'); // 09:30 Tokyo
    expect((await h.tick(all)).dates.get('renewal-moves')).toBe(0);
    h.at('2027-01-30T01:00:00.000Z');
    expect((await h.tick(all)).dates).toEqual(
      new Map([
        ['renewal-moves', 2], // rm-month for its new date, rm-same 60 days before
        ['renewal-moves-contacts', 2],
        ['renewal-once', 0],
      ]),
    );
    h.at('2027-01-30T18:00:00.000Z');
    expect((await h.tick(all)).dates.get('renewal-moves-contacts')).toBe(1);
    h.at('2027-03-01T01:00:00.000Z'); // 60 days before the new date, 30 before the old one
    expect((await h.tick(all)).dates.get('renewal-moves')).toBe(2);
    h.at('2027-03-01T18:00:00.000Z');
    expect((await h.tick(all)).dates.get('renewal-moves-contacts')).toBe(1);
    h.at('2027-12-31T01:00:00.000Z'); // 90 days before 2028-03-31 is 2028-01-01 (a leap year)
    expect((await h.tick(all)).dates.get('renewal-moves')).toBe(0);
    h.at('2028-01-01T01:00:00.000Z');
    expect((await h.tick(all)).dates.get('renewal-moves')).toBe(1);

    const final = (await h.enrollments('renewal-moves')).map((r) => `${r.subject} ${r.occurrence_key}`).sort();
    expect(final).toEqual([
      'rm-month account.renewal_date:-60d:2027-04-30',
      `rm-month ${ninety}`,
      'rm-month account.renewal_date:-90d:2027-04-30',
      'rm-same account.renewal_date:-30d:2027-03-31',
      'rm-same account.renewal_date:-60d:2027-03-31',
      `rm-same ${ninety}`,
      `rm-year ${ninety}`,
      'rm-year account.renewal_date:-90d:2028-03-31',
    ]);
    const contacts = (await h.enrollments('renewal-moves-contacts'))
      .filter((r) => r.occurrence_key.endsWith('2027-04-30'))
      .map((r) => [r.subject, r.entered_at.toISOString()]);
    expect(contacts).toEqual([
      ['rm-month-op', '2027-01-30T01:00:00.000Z'],
      ['rm-month-la', '2027-01-30T18:00:00.000Z'],
      ['rm-month-op', '2027-03-01T01:00:00.000Z'],
      ['rm-month-la', '2027-03-01T18:00:00.000Z'],
    ]);
  });

  it('after six hours down, each missed check runs once within its window, and dates fire only on their local day', async () => {
    const check = (schedule: string) => `${cohort('downtime')}
trigger:
  condition: { when: contact.logins_7d == 0, check: ${schedule} }
entry: { again_after: 30m, per: contact }
steps:
  - { id: nudge, send: low-usage/nudge }`;
    await h.scenario('down-hourly', check('every 1h'));
    await h.scenario('down-morning', check('daily at 09:00'));
    await h.scenario('down-evening', check('daily at 22:00'));
    // A segment check follows the same rule (who entered meanwhile is found by the next check).
    await h.scenario(
      'down-segment',
      `subject: account
${cohort('downtime')}
trigger:
  segment: { entered: at-risk, check: daily at 22:00 }
steps:
  - { id: notice, send: low-usage/help-offer, to: { role: admin } }`,
    );
    const checks = ['down-hourly', 'down-morning', 'down-evening'];
    h.at('2027-02-02T23:00:00.000Z'); // Wednesday 08:00 in Tokyo (the scenarios' zone)
    await h.account('dt-acct', { attributes: { cohort: 'downtime' } });
    await h.contact('dt-acct', 'dt-idle');
    const ran = async (iso: string) => {
      h.at(iso);
      const report = await h.tick([...checks, 'down-segment']);
      return [
        ...checks.filter((id) => report.conditions.has(id)),
        ...(report.segments.has('down-segment') ? ['down-segment'] : []),
      ];
    };
    // Newly active: each checks at once.
    expect(await ran('2027-02-02T23:00:00.000Z')).toEqual([...checks, 'down-segment']);
    expect(await ran('2027-02-02T23:30:00.000Z')).toEqual([]);
    // Down from 08:30 to 14:30: the hourly check runs once (not six times), the 09:00 one runs late, once.
    expect(await ran('2027-02-03T05:30:00.000Z')).toEqual(['down-hourly', 'down-morning']);
    expect(await ran('2027-02-03T05:30:10.000Z')).toEqual([]);
    expect(await ran('2027-02-03T12:00:00.000Z')).toEqual(['down-hourly']); // 21:00
    // Down from 21:00 to 03:00: the 22:00 check's day is over; it waits for tonight's.
    expect(await ran('2027-02-03T18:00:00.000Z')).toEqual(['down-hourly']);
    expect(await ran('2027-02-04T12:59:00.000Z')).toEqual(['down-hourly', 'down-morning']); // 21:59
    expect(await ran('2027-02-04T13:00:00.000Z')).toEqual(['down-hourly', 'down-evening', 'down-segment']); // 22:00
    // Hourly: 08:00, 14:30, 21:00, 03:00, 21:59 (at 22:00 it ran but the contact was cooling down).
    const entered = async (id: string) => (await h.enrollments(id)).length;
    expect([await entered('down-hourly'), await entered('down-morning'), await entered('down-evening')]).toEqual([
      5, 3, 2,
    ]);

    // Date triggers: 30 days before the renewal at 21:00 local, for accounts in three zones.
    await h.scenario(
      'down-dates',
      `subject: account
${cohort('downtime-dates')}
trigger:
  date: { fact: account.renewal_date, offsets: [-30d], at: '21:00' }
entry: { again_after: 20d, per: account }
steps:
  - { id: notice, send: renewal/renewal-notice, to: { role: operator } }`,
    );
    for (const [a, zone] of [
      ['dd-tokyo', 'Asia/Tokyo'],
      ['dd-kolkata', 'Asia/Kolkata'],
      ['dd-utc', 'UTC'],
    ] as const) {
      await h.account(a, { renewalDate: '2027-03-12', timeZone: zone, attributes: { cohort: 'downtime-dates' } });
      await h.contact(a, `${a}-op`, { roles: ['operator'], timeZone: zone });
    }
    const fired = async (iso: string) => {
      h.at(iso);
      await h.tick(['down-dates']);
      return (await h.enrollments('down-dates')).map((r) => r.subject).sort();
    };
    // 2027-02-10 is the day; the last tick is at 19:30 Tokyo, 16:00 Kolkata, 10:30 UTC.
    expect(await fired('2027-02-10T10:30:00.000Z')).toEqual([]);
    // Six hours later: Tokyo's day ended while down (no late mail), Kolkata's 21:00 passed but its day goes on.
    expect(await fired('2027-02-10T16:30:00.000Z')).toEqual(['dd-kolkata']);
    expect(await fired('2027-02-10T21:00:00.000Z')).toEqual(['dd-kolkata', 'dd-utc']);
    expect(await fired('2027-02-11T12:00:00.000Z')).toEqual(['dd-kolkata', 'dd-utc']); // 21:00 Tokyo, a day late
    expect(await h.sent('dd-tokyo-op')).toEqual([]);
  });
});
