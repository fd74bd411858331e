import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ACTIVE_HANDOFF_STATUSES_SQL } from '../handoffs/handoff.types';
import type { JsonObject } from '../common/json';
import type { FactRequirements } from '../scenarios/core/expression';
import { windowDays } from '../scenarios/core/facts/fact-calendar';
import {
  type AccountSnapshot,
  type ContactSnapshot,
  type DailyCount,
  type DailySiteCount,
  USAGE_EXCLUDED_TYPE_PATTERN,
} from '../scenarios/core/facts/fact-context';

export interface SnapshotOptions {
  now: Date;
  /** What the expressions to evaluate need (requirementsOf): rollup rows of the window only. */
  requirements: FactRequirements;
}

/** A subject as the in-memory evaluator reads it: the account, and the contact for contact subjects. */
export interface SubjectSnapshot {
  account: AccountSnapshot;
  contact: ContactSnapshot | undefined;
}

/** Ids per query: large batches are split so one array parameter stays reasonable. */
const BATCH_SIZE = 2000;

interface AccountRow {
  id: string;
  external_id: string;
  name: string;
  plan: string | null;
  arr: number | null;
  currency: string | null;
  owner_csm_id: string | null;
  contract_start: string | null;
  renewal_date: string | null;
  time_zone: string | null;
  locale: 'ja' | 'en' | null;
  status: 'active' | 'churned';
  attributes: JsonObject;
  active_contacts: number;
  open_handoffs: number;
}

interface ContactRow {
  id: string;
  external_id: string;
  account_id: string;
  name: string | null;
  roles: string[];
  locale: 'ja' | 'en' | null;
  time_zone: string | null;
  status: 'active' | 'left' | 'bounced';
  attributes: JsonObject;
}

interface DailyRow {
  subject_id: string;
  day: string;
  type: string;
  events: number;
}

interface SiteRow extends DailyRow {
  section: string;
}

/**
 * Loads the snapshots the in-memory evaluator reads (src/scenarios/core/facts/fact-context.ts)
 * for many subjects at once: one query per table and batch, rollup rows limited to the window
 * the expressions need, plus each subject's latest product-usage day when last_active_on is
 * read. The SQL compiled from the same expressions (fact-sql.ts) reads the same tables.
 */
@Injectable()
export class FactSnapshotRepository {
  constructor(private readonly dataSource: DataSource) {}

  async loadAccounts(
    ids: readonly string[],
    options: SnapshotOptions,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<Map<string, AccountSnapshot>> {
    const snapshots = new Map<string, AccountSnapshot>();
    for (const batch of batches(ids)) {
      const rows: AccountRow[] = await manager.query(
        `SELECT a.id, a.external_id, a.name, a.plan, a.arr_amount::float8 AS arr, a.arr_currency::text AS currency,
                a.owner_csm_id, a.contract_start_date::text AS contract_start, a.renewal_date::text AS renewal_date,
                a.time_zone, a.locale, a.status, a.attributes,
                (SELECT count(*)::int FROM contacts c WHERE c.account_id = a.id AND c.status = 'active') AS active_contacts,
                (SELECT count(*)::int FROM handoffs h WHERE h.account_id = a.id
                    AND h.status IN (${ACTIVE_HANDOFF_STATUSES_SQL})) AS open_handoffs
           FROM accounts a WHERE a.id = ANY($1::uuid[])`,
        [batch],
      );
      for (const r of rows) {
        snapshots.set(r.id, {
          id: r.id,
          externalId: r.external_id,
          name: r.name,
          plan: r.plan,
          arr: r.arr,
          currency: r.currency,
          ownerCsmId: r.owner_csm_id,
          contractStart: r.contract_start,
          renewalDate: r.renewal_date,
          timeZone: r.time_zone,
          locale: r.locale,
          status: r.status,
          attributes: r.attributes,
          activeContacts: r.active_contacts,
          openHandoffs: r.open_handoffs,
          daily: [],
          activeContactDays: [],
          site: [],
        });
      }
      const found = rows.map((r) => r.id);
      for (const row of await this.daily(manager, 'account', found, options))
        snapshots.get(row.subject_id)?.daily.push(daily(row));
      if (options.requirements.activeUsers && options.requirements.windowDays > 0) {
        const { from, to } = windowDays(options.now, options.requirements.windowDays);
        const active: { account_id: string; contact_id: string; day: string }[] = await manager.query(
          `SELECT DISTINCT u.account_id, u.contact_id, u.day::text AS day FROM contact_daily_usage u
            WHERE u.account_id = ANY($1::uuid[]) AND u.day BETWEEN $2::date AND $3::date
              AND u.events > 0 AND u.type !~ $4::text`,
          [found, from, to, USAGE_EXCLUDED_TYPE_PATTERN],
        );
        for (const row of active) {
          snapshots.get(row.account_id)?.activeContactDays.push({ contactId: row.contact_id, day: row.day });
        }
      }
      for (const row of await this.site(manager, 'account', found, options))
        snapshots.get(row.subject_id)?.site.push(site(row));
    }
    return snapshots;
  }

  async loadContacts(
    ids: readonly string[],
    options: SnapshotOptions,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<Map<string, ContactSnapshot>> {
    const snapshots = new Map<string, ContactSnapshot>();
    for (const batch of batches(ids)) {
      const rows: ContactRow[] = await manager.query(
        `SELECT c.id, c.external_id, c.account_id, c.name, c.roles, c.locale, c.time_zone, c.status, c.attributes
           FROM contacts c WHERE c.id = ANY($1::uuid[])`,
        [batch],
      );
      for (const r of rows) {
        snapshots.set(r.id, {
          id: r.id,
          externalId: r.external_id,
          accountId: r.account_id,
          name: r.name,
          roles: r.roles,
          locale: r.locale,
          timeZone: r.time_zone,
          status: r.status,
          attributes: r.attributes,
          daily: [],
          site: [],
        });
      }
      const found = rows.map((r) => r.id);
      for (const row of await this.daily(manager, 'contact', found, options))
        snapshots.get(row.subject_id)?.daily.push(daily(row));
      for (const row of await this.site(manager, 'contact', found, options))
        snapshots.get(row.subject_id)?.site.push(site(row));
    }
    return snapshots;
  }

  /** Subjects for evaluation: accounts, or contacts with their accounts; in the order of `ids`, unknown ids left out. */
  async loadSubjects(
    scope: 'account' | 'contact',
    ids: readonly string[],
    options: SnapshotOptions,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<SubjectSnapshot[]> {
    if (scope === 'account') {
      const accounts = await this.loadAccounts(ids, options, manager);
      return ids.flatMap((id) => {
        const account = accounts.get(id);
        return account ? [{ account, contact: undefined }] : [];
      });
    }
    const contacts = await this.loadContacts(ids, options, manager);
    const accounts = await this.loadAccounts(
      [...new Set([...contacts.values()].map((c) => c.accountId))],
      options,
      manager,
    );
    return ids.flatMap((id) => {
      const contact = contacts.get(id);
      const account = contact && accounts.get(contact.accountId);
      return contact && account ? [{ account, contact }] : [];
    });
  }

  /** Rollup rows of the window, and the latest usage day of each subject when it lies before the window. */
  private async daily(
    manager: EntityManager,
    scope: 'account' | 'contact',
    ids: string[],
    options: SnapshotOptions,
  ): Promise<DailyRow[]> {
    if (ids.length === 0) return [];
    const table = scope === 'account' ? 'account_daily_usage' : 'contact_daily_usage';
    const key = scope === 'account' ? 'account_id' : 'contact_id';
    const { requirements, now } = options;
    const rows: DailyRow[] = [];
    const from = requirements.windowDays > 0 ? windowDays(now, requirements.windowDays).from : undefined;
    const to = windowDays(now, 1).to;
    if (from !== undefined) {
      rows.push(
        ...(await manager.query<DailyRow[]>(
          `SELECT u.${key} AS subject_id, u.day::text AS day, u.type, u.events FROM ${table} u
            WHERE u.${key} = ANY($1::uuid[]) AND u.day BETWEEN $2::date AND $3::date`,
          [ids, from, to],
        )),
      );
    }
    if (requirements.lastActive) {
      const latest = await manager.query<DailyRow[]>(
        `SELECT DISTINCT ON (u.${key}) u.${key} AS subject_id, u.day::text AS day, u.type, u.events FROM ${table} u
          WHERE u.${key} = ANY($1::uuid[]) AND u.day <= $2::date AND u.events > 0 AND u.type !~ $3::text
          ORDER BY u.${key}, u.day DESC`,
        [ids, to, USAGE_EXCLUDED_TYPE_PATTERN],
      );
      rows.push(...latest.filter((row) => from === undefined || row.day < from));
    }
    return rows;
  }

  private async site(
    manager: EntityManager,
    scope: 'account' | 'contact',
    ids: string[],
    options: SnapshotOptions,
  ): Promise<SiteRow[]> {
    if (ids.length === 0 || !options.requirements.site || options.requirements.windowDays === 0) return [];
    const { from, to } = windowDays(options.now, options.requirements.windowDays);
    const subject = scope === 'account' ? 'c.account_id' : 'c.id';
    return manager.query<SiteRow[]>(
      `SELECT ${subject} AS subject_id, s.day::text AS day, s.type, s.section, sum(s.events)::float8 AS events
         FROM contacts c JOIN visitors v ON v.contact_id = c.id JOIN visitor_daily_site s ON s.visitor_id = v.id
        WHERE ${subject} = ANY($1::uuid[]) AND s.day BETWEEN $2::date AND $3::date
        GROUP BY 1, 2, 3, 4`,
      [ids, from, to],
    );
  }
}

function daily(row: DailyRow): DailyCount {
  return { day: row.day, type: row.type, count: Number(row.events) };
}

function site(row: SiteRow): DailySiteCount {
  return { day: row.day, type: row.type, section: row.section, count: Number(row.events) };
}

function batches(ids: readonly string[]): string[][] {
  const unique = [...new Set(ids)];
  const result: string[][] = [];
  for (let i = 0; i < unique.length; i += BATCH_SIZE) result.push(unique.slice(i, i + BATCH_SIZE));
  return result;
}
