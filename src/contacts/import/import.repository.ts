import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AccountInput, ContactInput, CsmInput } from '../contacts.schemas';
import { type ArrayElement, toArrayLiteral } from './pg-array.util';

/** A CSM row ready to write; `email` is normalised. */
export type CsmImportRow = CsmInput;

/** An account row ready to write; the owner is resolved to an id (`undefined`: not given; `ownerCsmExternalId` is not read). */
export type AccountImportRow = AccountInput & { ownerCsmId?: string | null };

/** A contact row ready to write; the account is resolved (`accountExternalId` is not read), `email` normalised. */
export type ContactImportRow = ContactInput & { accountId: string };

/** Which of a batch's external ids exist, and who holds its emails. */
export interface ExistingKeys {
  externalIds: Set<string>;
  /** Normalised email -> external id of the row holding it. */
  emailHolders: Map<string, string>;
}

/**
 * How one table is written from a batch: its columns as parallel arrays
 * (`unnest`, one array per column plus `given`, a bit mask of the optional
 * columns the row gave), the INSERT expressions (defaults for what was not
 * given), and the UPDATE assignments (a column not given keeps its value).
 */
interface TableWrite<R> {
  table: string;
  columns: readonly (readonly [name: string, type: string])[];
  insert: readonly string[];
  update: readonly string[];
  values(row: R): ArrayElement[];
}

/** `SET` keeping the stored value unless the row gave the column (its bit set in `r.given`). */
function unlessGiven(column: string, bit: number, value = `r.${column}`): string {
  return `${column} = CASE WHEN (r.given & ${bit}) <> 0 THEN ${value} ELSE t.${column} END`;
}

/** `bit` when the value was given (null counts as given), else 0. */
function given(value: unknown, bit: number): number {
  return value === undefined ? 0 : bit;
}

function unnestSql(columns: TableWrite<unknown>['columns']): string {
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return `unnest(${arrays}, $${columns.length + 1}::int[]) AS r(${columns.map(([name]) => name).join(', ')}, given)`;
}

function insertSql(write: TableWrite<never>): string {
  const names = write.columns.map(([name]) => name).join(', ');
  return `INSERT INTO ${write.table} (${names}) SELECT ${write.insert.join(', ')} FROM ${unnestSql(write.columns)}`;
}

function updateSql(write: TableWrite<never>): string {
  const set = [...write.update, 'updated_at = now()'].join(', ');
  return `UPDATE ${write.table} AS t SET ${set} FROM ${unnestSql(write.columns)} WHERE t.external_id = r.external_id`;
}

const CSM = { locale: 1, webhook: 2 } as const;

const csmWrite: TableWrite<CsmImportRow> = {
  table: 'csms',
  columns: [
    ['external_id', 'text'],
    ['name', 'text'],
    ['email', 'text'],
    ['locale', 'text'],
    ['notification_webhook_url', 'text'],
  ],
  insert: ['r.external_id', 'r.name', 'r.email', "COALESCE(r.locale, 'ja')", 'r.notification_webhook_url'],
  update: [
    'name = r.name',
    'email = r.email',
    unlessGiven('locale', CSM.locale),
    unlessGiven('notification_webhook_url', CSM.webhook),
  ],
  values: (row) => [
    row.externalId,
    row.name,
    row.email,
    row.locale ?? null,
    row.notificationWebhookUrl ?? null,
    given(row.locale, CSM.locale) | given(row.notificationWebhookUrl, CSM.webhook),
  ],
};

const ACCOUNT = {
  plan: 1,
  arrAmount: 2,
  arrCurrency: 4,
  owner: 8,
  contractStartDate: 16,
  renewalDate: 32,
  timeZone: 64,
  locale: 128,
  status: 256,
  attributes: 512,
} as const;

const accountWrite: TableWrite<AccountImportRow> = {
  table: 'accounts',
  columns: [
    ['external_id', 'text'],
    ['name', 'text'],
    ['plan', 'text'],
    ['arr_amount', 'numeric'],
    ['arr_currency', 'text'],
    ['owner_csm_id', 'uuid'],
    ['contract_start_date', 'date'],
    ['renewal_date', 'date'],
    ['time_zone', 'text'],
    ['locale', 'text'],
    ['status', 'text'],
    ['attributes', 'jsonb'],
  ],
  insert: [
    'r.external_id',
    'r.name',
    'r.plan',
    'r.arr_amount',
    'r.arr_currency',
    'r.owner_csm_id',
    'r.contract_start_date',
    'r.renewal_date',
    'r.time_zone',
    'r.locale',
    "COALESCE(r.status, 'active')",
    "COALESCE(r.attributes, '{}')",
  ],
  update: [
    'name = r.name',
    unlessGiven('plan', ACCOUNT.plan),
    // Clearing the currency clears the amount: an amount is never stored without one.
    `arr_amount = CASE WHEN (r.given & ${ACCOUNT.arrAmount}) <> 0 THEN r.arr_amount
                       WHEN (r.given & ${ACCOUNT.arrCurrency}) <> 0 AND r.arr_currency IS NULL THEN NULL
                       ELSE t.arr_amount END`,
    unlessGiven('arr_currency', ACCOUNT.arrCurrency),
    unlessGiven('owner_csm_id', ACCOUNT.owner),
    unlessGiven('contract_start_date', ACCOUNT.contractStartDate),
    unlessGiven('renewal_date', ACCOUNT.renewalDate),
    unlessGiven('time_zone', ACCOUNT.timeZone),
    unlessGiven('locale', ACCOUNT.locale),
    unlessGiven('status', ACCOUNT.status),
    // Attributes merge: the row's keys are set, the others kept.
    unlessGiven('attributes', ACCOUNT.attributes, 't.attributes || r.attributes'),
  ],
  values: (row) => [
    row.externalId,
    row.name,
    row.plan ?? null,
    row.arrAmount == null ? null : row.arrAmount.toFixed(2),
    row.arrCurrency ?? null,
    row.ownerCsmId ?? null,
    row.contractStartDate ?? null,
    row.renewalDate ?? null,
    row.timeZone ?? null,
    row.locale ?? null,
    row.status ?? null,
    row.attributes === undefined ? null : JSON.stringify(row.attributes),
    given(row.plan, ACCOUNT.plan) |
      given(row.arrAmount, ACCOUNT.arrAmount) |
      given(row.arrCurrency, ACCOUNT.arrCurrency) |
      given(row.ownerCsmId, ACCOUNT.owner) |
      given(row.contractStartDate, ACCOUNT.contractStartDate) |
      given(row.renewalDate, ACCOUNT.renewalDate) |
      given(row.timeZone, ACCOUNT.timeZone) |
      given(row.locale, ACCOUNT.locale) |
      given(row.status, ACCOUNT.status) |
      given(row.attributes, ACCOUNT.attributes),
  ],
};

const CONTACT = {
  name: 1,
  roles: 2,
  locale: 4,
  timeZone: 8,
  status: 16,
  consent: 32,
  attributes: 64,
  emailTracking: 128,
} as const;

const contactWrite: TableWrite<ContactImportRow> = {
  table: 'contacts',
  columns: [
    ['external_id', 'text'],
    ['account_id', 'uuid'],
    ['email', 'text'],
    ['name', 'text'],
    // A text[] per row travels as its array literal (roles are enum words, never quoted).
    ['roles', 'text'],
    ['locale', 'text'],
    ['time_zone', 'text'],
    ['status', 'text'],
    ['consent_basis', 'text'],
    ['consent_at', 'timestamptz'],
    ['consent_method', 'text'],
    ['consent_source', 'text'],
    ['email_tracking', 'text'],
    ['attributes', 'jsonb'],
  ],
  insert: [
    'r.external_id',
    'r.account_id',
    'r.email',
    'r.name',
    "COALESCE(r.roles::text[], '{}')",
    'r.locale',
    'r.time_zone',
    "COALESCE(r.status, 'active')",
    'r.consent_basis',
    'r.consent_at',
    'r.consent_method',
    'r.consent_source',
    'r.email_tracking',
    "COALESCE(r.attributes, '{}')",
  ],
  update: [
    'account_id = r.account_id',
    'email = r.email',
    unlessGiven('name', CONTACT.name),
    unlessGiven('roles', CONTACT.roles, 'r.roles::text[]'),
    unlessGiven('locale', CONTACT.locale),
    unlessGiven('time_zone', CONTACT.timeZone),
    unlessGiven('status', CONTACT.status),
    // The consent columns are one value: given together, cleared together.
    unlessGiven('consent_basis', CONTACT.consent),
    unlessGiven('consent_at', CONTACT.consent),
    unlessGiven('consent_method', CONTACT.consent),
    unlessGiven('consent_source', CONTACT.consent),
    unlessGiven('email_tracking', CONTACT.emailTracking),
    unlessGiven('attributes', CONTACT.attributes, 't.attributes || r.attributes'),
  ],
  values: (row) => [
    row.externalId,
    row.accountId,
    row.email,
    row.name ?? null,
    row.roles === undefined ? null : `{${row.roles.join(',')}}`,
    row.locale ?? null,
    row.timeZone ?? null,
    row.status ?? null,
    row.consent?.basis ?? null,
    row.consent?.at ?? null,
    row.consent?.method ?? null,
    row.consent?.source ?? null,
    row.emailTracking ?? null,
    row.attributes === undefined ? null : JSON.stringify(row.attributes),
    given(row.name, CONTACT.name) |
      given(row.roles, CONTACT.roles) |
      given(row.locale, CONTACT.locale) |
      given(row.timeZone, CONTACT.timeZone) |
      given(row.status, CONTACT.status) |
      given(row.consent, CONTACT.consent) |
      given(row.emailTracking, CONTACT.emailTracking) |
      given(row.attributes, CONTACT.attributes),
  ],
};

interface PreparedWrite<R> extends TableWrite<R> {
  insertSql: string;
  updateSql: string;
}

function prepare<R>(write: TableWrite<R>): PreparedWrite<R> {
  return { ...write, insertSql: insertSql(write), updateSql: updateSql(write) };
}

const writes = { csms: prepare(csmWrite), accounts: prepare(accountWrite), contacts: prepare(contactWrite) };

/**
 * Set-based reads and writes of bulk imports: one statement per batch, never
 * one per row. Every method takes the import transaction's manager.
 */
@Injectable()
export class ImportRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Runs `work` in one transaction on one connection and commits or rolls back
   * as it decides; rolls back when it throws. On the embedded engine this holds
   * the only connection: everything inside must use the given manager.
   */
  async inTransaction<T>(work: (manager: EntityManager) => Promise<{ commit: boolean; result: T }>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        // The lookups probe ~1,000 keys of a unique index at a time; with statistics
        // from before the import the planner may scan the whole table instead.
        await runner.query('SET LOCAL enable_seqscan = off');
        const { commit, result } = await work(runner.manager);
        if (commit) await runner.commitTransaction();
        else await runner.rollbackTransaction();
        return result;
      } catch (error: unknown) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    } finally {
      await runner.release();
    }
  }

  /** External id -> id of the CSMs among `externalIds`. */
  async csmIds(m: EntityManager, externalIds: string[]): Promise<Map<string, string>> {
    if (externalIds.length === 0) return new Map();
    const sql = 'SELECT external_id, id FROM csms WHERE external_id = ANY($1::text[])';
    const rows = await m.query<{ external_id: string; id: string }[]>(sql, [externalIds]);
    return new Map(rows.map((r) => [r.external_id, r.id]));
  }

  /** External id -> id of the accounts among `externalIds`. */
  async accountIds(m: EntityManager, externalIds: string[]): Promise<Map<string, string>> {
    if (externalIds.length === 0) return new Map();
    const sql = 'SELECT external_id, id FROM accounts WHERE external_id = ANY($1::text[])';
    const rows = await m.query<{ external_id: string; id: string }[]>(sql, [externalIds]);
    return new Map(rows.map((r) => [r.external_id, r.id]));
  }

  /** Which of `externalIds` are stored CSMs, and which CSMs hold any of `emails`, in one query. */
  existingCsmKeys(m: EntityManager, externalIds: string[], emails: string[]): Promise<ExistingKeys> {
    return this.existingKeys(m, 'csms', externalIds, emails);
  }

  /** Which of `externalIds` are stored contacts, and which contacts hold any of `emails`, in one query. */
  existingContactKeys(m: EntityManager, externalIds: string[], emails: string[]): Promise<ExistingKeys> {
    return this.existingKeys(m, 'contacts', externalIds, emails);
  }

  /** Inserts rows known to be new. */
  insertCsms(m: EntityManager, rows: readonly CsmImportRow[]): Promise<void> {
    return this.run(m, writes.csms, 'insertSql', rows);
  }

  /** Updates stored rows with the columns each row gave. */
  updateCsms(m: EntityManager, rows: readonly CsmImportRow[]): Promise<void> {
    return this.run(m, writes.csms, 'updateSql', rows);
  }

  insertAccounts(m: EntityManager, rows: readonly AccountImportRow[]): Promise<void> {
    return this.run(m, writes.accounts, 'insertSql', rows);
  }

  updateAccounts(m: EntityManager, rows: readonly AccountImportRow[]): Promise<void> {
    return this.run(m, writes.accounts, 'updateSql', rows);
  }

  insertContacts(m: EntityManager, rows: readonly ContactImportRow[]): Promise<void> {
    return this.run(m, writes.contacts, 'insertSql', rows);
  }

  updateContacts(m: EntityManager, rows: readonly ContactImportRow[]): Promise<void> {
    return this.run(m, writes.contacts, 'updateSql', rows);
  }

  private async existingKeys(
    m: EntityManager,
    table: 'csms' | 'contacts',
    externalIds: string[],
    emails: string[],
  ): Promise<ExistingKeys> {
    const keys: ExistingKeys = { externalIds: new Set(), emailHolders: new Map() };
    if (externalIds.length === 0 && emails.length === 0) return keys;
    const sql = `SELECT external_id, email FROM ${table} WHERE external_id = ANY($1::text[]) OR email = ANY($2::text[])`;
    const rows = await m.query<{ external_id: string; email: string }[]>(sql, [externalIds, emails]);
    const wanted = new Set(externalIds);
    for (const row of rows) {
      if (wanted.has(row.external_id)) keys.externalIds.add(row.external_id);
      keys.emailHolders.set(row.email, row.external_id);
    }
    return keys;
  }

  private async run<R>(
    m: EntityManager,
    write: PreparedWrite<R>,
    statement: 'insertSql' | 'updateSql',
    rows: readonly R[],
  ): Promise<void> {
    if (rows.length === 0) return;
    const columns: ArrayElement[][] = Array.from({ length: write.columns.length + 1 }, () => []);
    for (const row of rows) {
      const values = write.values(row);
      for (let i = 0; i < values.length; i++) columns[i]!.push(values[i]);
    }
    await m.query(write[statement], columns.map(toArrayLiteral));
  }
}
