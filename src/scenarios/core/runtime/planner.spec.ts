import { parse } from 'yaml';
import type { AccountSnapshot, FactContext } from '../facts/fact-context';
import { scenarioSchema } from '../scenario.schema';
import { compileScenario, type CompiledScenario } from './compiled-scenario';
import { advance, assignVariant, type EnrollmentState, nextLocalTime } from './planner';

const NOW = new Date('2026-12-03T01:00:00Z'); // 10:00 in Tokyo, a Thursday

function scenario(yaml: string): CompiledScenario {
  const definition = scenarioSchema.parse(parse(`id: s\nname: s\ntrigger: { event: { type: login } }\n${yaml}`));
  return compileScenario(definition, 'v1', { segments: {}, page_groups: {}, events: {} });
}

function account(overrides: Partial<AccountSnapshot> = {}): AccountSnapshot {
  return {
    id: 'a1',
    externalId: 'acme',
    name: 'Acme',
    plan: null,
    arr: null,
    currency: null,
    ownerCsmId: null,
    contractStart: '2026-11-01',
    renewalDate: '2027-11-01',
    timeZone: 'Asia/Tokyo',
    locale: 'ja',
    status: 'active',
    attributes: {},
    activeContacts: 1,
    openHandoffs: 0,
    daily: [],
    activeContactDays: [],
    site: [],
    ...overrides,
  };
}

function facts(opts: { opened?: string[]; logins7d?: number; now?: Date } = {}): FactContext {
  const day = (opts.now ?? NOW).toISOString().slice(0, 10);
  return {
    now: opts.now ?? NOW,
    settings: {
      tierThresholds: {},
      onboardingDays: 90,
      renewalWindowDays: 90,
      defaultTimeZone: 'Asia/Tokyo',
      pageGroups: {},
    },
    account: account({ daily: opts.logins7d ? [{ day, type: 'login', count: opts.logins7d }] : [] }),
    contact: {
      id: 'c1',
      externalId: 'c-1',
      accountId: 'a1',
      name: null,
      roles: ['admin'],
      locale: 'ja',
      timeZone: null,
      status: 'active',
      attributes: {},
      daily: [],
      site: [],
    },
    enrollment: {
      opened: (id) => (opts.opened ?? []).includes(id),
      clicked: () => false,
    },
  };
}

function fresh(id = 'e1', subjectKey = 'c1'): EnrollmentState {
  return { id, subjectKey, enteredAt: NOW, cursor: null, waiting: undefined, assignments: {}, visits: {} };
}

const at = (ms: number) => new Date(NOW.getTime() + ms);
const DAY = 86_400_000;

describe('planner', () => {
  const series = scenario(`
steps:
  - { id: welcome, send: onboarding/welcome }
  - { id: pause, wait: 2d }
  - id: check
    if: opened('welcome')
    then: [{ id: case-study, send: onboarding/case-study }]
    else: [{ id: reminder, send: onboarding/first-steps-reminder }]
`);

  it('sends, waits, and continues when the wait is over, on the branch the facts choose', () => {
    const first = advance({ scenario: series, state: fresh(), now: NOW, facts: facts(), timeZone: 'Asia/Tokyo' });
    expect(first.effects).toEqual([
      expect.objectContaining({
        kind: 'send',
        stepId: 'welcome',
        template: 'onboarding/welcome',
        intentKey: 'e1:welcome:1',
      }),
    ]);
    expect(first.outcome).toEqual({ kind: 'waiting', nextRunAt: at(2 * DAY) });

    const early = advance({
      scenario: series,
      state: first.state,
      now: at(DAY),
      facts: facts(),
      timeZone: 'Asia/Tokyo',
    });
    expect(early.effects).toEqual([]);
    expect(early.outcome).toEqual({ kind: 'waiting', nextRunAt: at(2 * DAY) });

    const opened = advance({
      scenario: series,
      state: first.state,
      now: at(2 * DAY),
      facts: facts({ opened: ['welcome'] }),
      timeZone: 'Asia/Tokyo',
    });
    expect(opened.effects.map((e) => e.stepId)).toEqual(['case-study']);
    expect(opened.outcome).toEqual({ kind: 'completed' });
    expect(opened.trace).toEqual([
      'pause: wait over',
      'check: then',
      'case-study: send onboarding/case-study',
      'end of the journey',
    ]);

    const notOpened = advance({
      scenario: series,
      state: first.state,
      now: at(2 * DAY),
      facts: facts(),
      timeZone: 'Asia/Tokyo',
    });
    expect(notOpened.effects.map((e) => e.stepId)).toEqual(['reminder']);
  });

  it('gives the same intent keys when a run is repeated (a retry cannot double an effect)', () => {
    const a = advance({ scenario: series, state: fresh(), now: NOW, facts: facts(), timeZone: 'Asia/Tokyo' });
    const b = advance({ scenario: series, state: fresh(), now: NOW, facts: facts(), timeZone: 'Asia/Tokyo' });
    expect(b.effects.map((e) => e.intentKey)).toEqual(a.effects.map((e) => e.intentKey));
  });

  it('wait_for continues on the event, or takes on_timeout after the timeout', () => {
    const s = scenario(`
steps:
  - id: wait-login
    wait_for: { event: login, timeout: 7d }
    on_timeout: [{ id: stalled, handoff: { to: owner, reason: onboarding_stalled, priority: high } }]
  - { id: thanks, send: onboarding/case-study }
`);
    const waiting = advance({ scenario: s, state: fresh(), now: NOW, facts: facts(), timeZone: 'UTC' });
    expect(waiting.outcome).toEqual({ kind: 'waiting', nextRunAt: at(7 * DAY) });
    expect(waiting.state.waiting).toEqual({
      kind: 'wait_for',
      event: 'login',
      where: undefined,
      since: NOW,
      timeoutAt: at(7 * DAY),
    });

    const arrived = advance({
      scenario: s,
      state: waiting.state,
      now: at(DAY),
      facts: facts(),
      eventArrived: true,
      timeZone: 'UTC',
    });
    expect(arrived.effects.map((e) => e.kind)).toEqual(['send']);

    const timedOut = advance({ scenario: s, state: waiting.state, now: at(7 * DAY), facts: facts(), timeZone: 'UTC' });
    expect(timedOut.effects).toEqual([
      expect.objectContaining({
        kind: 'handoff',
        stepId: 'stalled',
        handoff: { to: 'owner', reason: 'onboarding_stalled', kind: 'risk', priority: 'high' },
      }),
      expect.objectContaining({ kind: 'send', stepId: 'thanks' }),
    ]);
  });

  it('converts when the goal is met within its window, and leaves when exit_when holds', () => {
    const s = scenario(`
goal: { when: account.logins_7d >= 5, within: 30d }
exit_when: account.status == 'churned'
steps:
  - { id: pause, wait: 3d }
  - { id: tips, send: onboarding/first-steps }
`);
    const first = advance({ scenario: s, state: fresh(), now: NOW, facts: facts(), timeZone: 'UTC' });
    const later = at(3 * DAY);
    const converted = advance({
      scenario: s,
      state: first.state,
      now: later,
      facts: facts({ logins7d: 6, now: later }),
      timeZone: 'UTC',
    });
    expect(converted.outcome).toEqual({ kind: 'converted' });
    expect(converted.effects).toEqual([]);
    const churned = facts({ now: later });
    churned.account.status = 'churned';
    expect(advance({ scenario: s, state: first.state, now: later, facts: churned, timeZone: 'UTC' }).outcome).toEqual({
      kind: 'exited',
      reason: 'exit_when',
    });
    // Past the goal window the goal no longer converts.
    const late = at(40 * DAY);
    const tooLate = advance({
      scenario: s,
      state: first.state,
      now: late,
      facts: facts({ logins7d: 6, now: late }),
      timeZone: 'UTC',
    });
    expect(tooLate.outcome).toEqual({ kind: 'completed' });
  });

  it('runs a step again in a loop under a new intent key', () => {
    const s = scenario(`
steps:
  - { id: remind, send: onboarding/first-steps-reminder }
  - { id: week, wait: 7d }
  - { id: again, goto: remind }
`);
    const one = advance({ scenario: s, state: fresh(), now: NOW, facts: facts(), timeZone: 'UTC' });
    const two = advance({ scenario: s, state: one.state, now: at(7 * DAY), facts: facts(), timeZone: 'UTC' });
    expect(one.effects[0]?.intentKey).toBe('e1:remind:1');
    expect(two.effects[0]?.intentKey).toBe('e1:remind:2');
  });

  it('assigns variants deterministically, by weight, with a measured holdout', () => {
    const variants = [
      { name: 'a', weight: 3 },
      { name: 'b', weight: 1 },
    ];
    const counts: Record<string, number> = { a: 0, b: 0, holdout: 0 };
    for (let i = 0; i < 20_000; i++) counts[assignVariant('s', 'ab', `c${i}`, variants, 10)]! += 1;
    expect(counts.holdout! / 20_000).toBeCloseTo(0.1, 1);
    expect(counts.a! / (counts.a! + counts.b!)).toBeCloseTo(0.75, 1);
    expect(assignVariant('s', 'ab', 'c42', variants, 10)).toBe(assignVariant('s', 'ab', 'c42', variants, 10));

    const s = scenario(`
goal: { when: account.logins_7d >= 5, within: 30d }
steps:
  - id: ab
    split:
      holdout: 50
      variants: [{ name: a, weight: 1, steps: [{ id: tips, send: onboarding/first-steps }] }]
`);
    const heldOut = Array.from({ length: 100 }, (_, i) => `c${i}`).find(
      (key) => assignVariant('s', 'ab', key, [{ name: 'a', weight: 1 }], 50) === 'holdout',
    )!;
    const held = advance({ scenario: s, state: fresh('e1', heldOut), now: NOW, facts: facts(), timeZone: 'UTC' });
    expect(held.effects).toEqual([expect.objectContaining({ kind: 'assign', variant: 'holdout' })]);
    expect(held.outcome).toEqual({ kind: 'waiting', nextRunAt: at(30 * DAY) });
    // The holdout is still measured: meeting the goal converts it.
    const met = advance({
      scenario: s,
      state: held.state,
      now: at(DAY),
      facts: facts({ logins7d: 9, now: at(DAY) }),
      timeZone: 'UTC',
    });
    expect(met.outcome).toEqual({ kind: 'converted' });
    const over = advance({
      scenario: s,
      state: held.state,
      now: at(30 * DAY),
      facts: facts({ now: at(30 * DAY) }),
      timeZone: 'UTC',
    });
    expect(over.outcome).toEqual({ kind: 'exited', reason: 'holdout' });
  });

  it('finds the next local time in the recipient zone', () => {
    // 10:00 Thursday in Tokyo: the next 10:00 is tomorrow.
    expect(nextLocalTime('10:00', NOW, 'Asia/Tokyo').toISOString()).toBe('2026-12-04T01:00:00.000Z');
    expect(nextLocalTime('11:30', NOW, 'Asia/Tokyo').toISOString()).toBe('2026-12-03T02:30:00.000Z');
    expect(nextLocalTime('monday 09:00', NOW, 'Asia/Tokyo').toISOString()).toBe('2026-12-07T00:00:00.000Z');
    // Friday 10:00 Tokyo -> next weekday 09:30 is Monday.
    expect(nextLocalTime('weekday 09:30', new Date('2026-12-04T01:00:00Z'), 'Asia/Tokyo').toISOString()).toBe(
      '2026-12-07T00:30:00.000Z',
    );
    expect(nextLocalTime('10:00', NOW, 'America/Los_Angeles').toISOString()).toBe('2026-12-03T18:00:00.000Z');
  });
});
