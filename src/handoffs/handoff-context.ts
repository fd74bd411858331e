import type { EntityManager } from 'typeorm';
import { type FactSettings, USAGE_EXCLUDED_TYPE_PATTERN } from '../scenarios/core/facts/fact-context';
import { accountFact } from '../scenarios/core/facts/fact-values';
import { type FactSnapshotRepository } from '../metrics/fact-snapshot.repository';
import type { HandoffContext } from './handoff.types';

const DAY = 86_400_000;

/**
 * The story of an account when it is handed to a person: its lifecycle phase, tier and
 * days to renewal (the same facts scenarios read), its mail of the last 30 days and how
 * each was engaged, its site visits by section, its usage week by week, and its latest
 * product events. A handful of indexed queries, inside the caller's transaction.
 */
export async function buildHandoffContext(
  m: EntityManager,
  snapshots: FactSnapshotRepository,
  settings: FactSettings,
  accountId: string,
  contactId: string | null,
  now: Date,
): Promise<HandoffContext> {
  const accounts = await snapshots.loadAccounts(
    [accountId],
    { now, requirements: { windowDays: 0, lastActive: false, activeUsers: false, site: false } },
    m,
  );
  const account = accounts.get(accountId);
  if (!account) throw new Error(`account ${accountId} is gone`);
  const ctx = {
    now,
    settings,
    account,
    contact: undefined,
    enrollment: { opened: () => false, clicked: () => false },
  };
  const since = new Date(now.getTime() - 30 * DAY).toISOString();
  const contact =
    contactId === null
      ? null
      : ((
          await m.query<{ externalId: string; name: string | null; roles: string[] }[]>(
            `SELECT external_id AS "externalId", name, roles FROM contacts WHERE id = $1`,
            [contactId],
          )
        )[0] ?? null);
  const emails = await m.query<HandoffContext['emails']>(
    `SELECT msg.template, to_char(msg.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "sentAt", msg.status,
            EXISTS (SELECT 1 FROM events ev WHERE ev.contact_id = msg.contact_id AND ev.occurred_at >= msg.created_at
                      AND ev.type IN ('email.opened', 'email.clicked') AND ev.props->>'messageId' = msg.id::text
                      AND COALESCE(ev.props->>'classification', 'human') = 'human') AS opened,
            EXISTS (SELECT 1 FROM events ev WHERE ev.contact_id = msg.contact_id AND ev.occurred_at >= msg.created_at
                      AND ev.type = 'email.clicked' AND ev.props->>'messageId' = msg.id::text
                      AND COALESCE(ev.props->>'classification', 'human') = 'human') AS clicked
       FROM messages msg WHERE msg.account_id = $1 AND msg.created_at >= $2
      ORDER BY msg.created_at DESC LIMIT 20`,
    [accountId, since],
  );
  const siteVisits = await m.query<HandoffContext['siteVisits']>(
    `SELECT s.section, sum(s.events)::int AS views, max(s.day)::text AS "lastAt"
       FROM contacts c JOIN visitors v ON v.contact_id = c.id JOIN visitor_daily_site s ON s.visitor_id = v.id
      WHERE c.account_id = $1 AND s.type = 'site.page_viewed' AND s.day >= $2::date
      GROUP BY s.section ORDER BY views DESC LIMIT 10`,
    [accountId, since],
  );
  const usage = await m.query<HandoffContext['usage']>(
    `SELECT w.week::text AS "weekStart",
            COALESCE((SELECT sum(u.events) FROM account_daily_usage u WHERE u.account_id = $1
                        AND u.day >= w.week AND u.day < w.week + 7 AND u.type !~ $3), 0)::int AS events,
            COALESCE((SELECT sum(u.events) FROM account_daily_usage u WHERE u.account_id = $1
                        AND u.day >= w.week AND u.day < w.week + 7 AND u.type = 'login'), 0)::int AS logins,
            (SELECT count(DISTINCT cu.contact_id) FROM contact_daily_usage cu WHERE cu.account_id = $1
               AND cu.day >= w.week AND cu.day < w.week + 7 AND cu.events > 0
               AND cu.type !~ $3)::int AS "activeUsers"
       FROM (SELECT g::date AS week
               FROM generate_series(date_trunc('week', $2::timestamptz - interval '7 weeks'),
                                    date_trunc('week', $2::timestamptz), interval '1 week') AS g) w
      ORDER BY w.week`,
    [accountId, now.toISOString(), USAGE_EXCLUDED_TYPE_PATTERN],
  );
  const recentEvents = await m.query<HandoffContext['recentEvents']>(
    `SELECT ev.type, to_char(ev.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at, c.external_id AS contact
       FROM events ev LEFT JOIN contacts c ON c.id = ev.contact_id
      WHERE ev.account_id = $1 AND ev.source = 'api'
      ORDER BY ev.occurred_at DESC, ev.id DESC LIMIT 10`,
    [accountId],
  );
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    account: {
      externalId: account.externalId,
      name: account.name,
      plan: account.plan,
      tier: String(accountFact('tier', ctx)),
      lifecycle: String(accountFact('lifecycle', ctx)),
      daysToRenewal: num(accountFact('days_to_renewal', ctx)),
      renewalDate: account.renewalDate,
      arr: account.arr,
      currency: account.currency,
    },
    contact,
    emails,
    siteVisits,
    usage,
    recentEvents,
  };
}
