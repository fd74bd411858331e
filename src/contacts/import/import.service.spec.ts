import { setImmediate } from 'node:timers/promises';
import type { EntityManager } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/domain-error';
import type { AppConfig } from '../../config/app-config';
import type { ContactImportRow, ExistingKeys, ImportRepository } from './import.repository';
import { IMPORT_BATCH_SIZE, ImportService } from './import.service';
import type { SourceRow } from './import.types';

/** Accounts and contacts in memory; records what was written and whether it was committed. */
class FakeRepository {
  accounts = new Map([['acme', 'account-uuid']]);
  contacts = new Map<string, string>([['taken', 'taken@example.jp']]);
  inserted: ContactImportRow[] = [];
  updated: ContactImportRow[] = [];
  committed: boolean | undefined;
  /** Whether a transaction was asked for (a connection taken, BEGIN sent). */
  began = false;
  failWrites = false;

  async inTransaction<T>(work: (m: EntityManager) => Promise<{ commit: boolean; result: T }>): Promise<T> {
    this.began = true;
    const { commit, result } = await work({} as EntityManager);
    this.committed = commit;
    return result;
  }

  async accountIds(_m: EntityManager, ids: string[]): Promise<Map<string, string>> {
    return new Map(ids.flatMap((id) => (this.accounts.has(id) ? [[id, this.accounts.get(id)!] as const] : [])));
  }

  async existingContactKeys(_m: EntityManager, ids: string[], emails: string[]): Promise<ExistingKeys> {
    const keys: ExistingKeys = {
      externalIds: new Set(ids.filter((id) => this.contacts.has(id))),
      emailHolders: new Map(),
    };
    for (const [id, email] of this.contacts) if (emails.includes(email)) keys.emailHolders.set(email, id);
    return keys;
  }

  async insertContacts(_m: EntityManager, rows: readonly ContactImportRow[]): Promise<void> {
    if (this.failWrites) throw Object.assign(new Error('duplicate key'), { driverError: { code: '23505' } });
    this.inserted.push(...rows);
  }

  async updateContacts(_m: EntityManager, rows: readonly ContactImportRow[]): Promise<void> {
    this.updated.push(...rows);
  }
}

function serviceWith(repository: FakeRepository, maxRows = 1000): ImportService {
  const config = { import: { maxRows, maxBytes: 1_000_000 } } as AppConfig;
  return new ImportService(repository as unknown as ImportRepository, config);
}

async function* rowsOf(...records: unknown[]): AsyncGenerator<SourceRow> {
  let line = 0;
  for (const record of records) {
    line += 1;
    yield { line, ok: true, record };
  }
}

const contact = (externalId: string, email: string, accountExternalId = 'acme') => ({
  externalId,
  accountExternalId,
  email,
});

describe('ImportService', () => {
  it('writes every row and commits when all are valid, normalising emails and roles', async () => {
    const repository = new FakeRepository();
    const outcome = await serviceWith(repository).import(
      'contacts',
      rowsOf({ ...contact('c-1', ' A@Example.JP '), roles: ['admin', 'admin'] }, contact('taken', 'taken@example.jp')),
      { skipInvalid: false },
    );
    expect(outcome).toEqual({
      committed: true,
      rows: 2,
      valid: 2,
      invalid: 0,
      created: 1,
      updated: 1,
      issues: [],
      totalIssues: 0,
    });
    expect(repository.committed).toBe(true);
    expect(repository.inserted[0]).toMatchObject({
      email: 'a@example.jp',
      roles: ['admin'],
      accountId: 'account-uuid',
    });
    expect(repository.updated.map((r) => r.externalId)).toEqual(['taken']);
  });

  it('rolls back and reports every bad row unless skipInvalid', async () => {
    const rows = () =>
      rowsOf(
        contact('c-1', 'a@example.jp'),
        contact('c-2', 'not-an-email'),
        contact('c-3', 'c@example.jp', 'nowhere'),
        contact('c-4', 'TAKEN@example.jp'),
        contact('c-1', 'e@example.jp'),
      );
    const expectedIssues = [
      { line: 2, path: 'email', message: 'must be an email address' },
      { line: 3, path: 'accountExternalId', message: 'no account with external id nowhere' },
      { line: 4, path: 'email', message: 'already belongs to contact taken' },
      { line: 5, path: 'externalId', message: 'repeats line 1: each externalId may appear only once in a file' },
    ];

    const strict = new FakeRepository();
    const rejected = await serviceWith(strict).import('contacts', rows(), { skipInvalid: false });
    expect(strict.committed).toBe(false);
    expect(rejected).toMatchObject({ committed: false, rows: 5, valid: 1, invalid: 4, created: 0, updated: 0 });
    expect(rejected.issues).toEqual(expectedIssues);

    const lenient = new FakeRepository();
    const skipped = await serviceWith(lenient).import('contacts', rows(), { skipInvalid: true });
    expect(lenient.committed).toBe(true);
    expect(skipped).toMatchObject({ committed: true, valid: 1, invalid: 4, created: 1, issues: expectedIssues });
  });

  it('stops with PayloadTooLarge past the row limit', async () => {
    const repository = new FakeRepository();
    const rows = rowsOf(contact('c-1', 'a@example.jp'), contact('c-2', 'b@example.jp'), contact('c-3', 'c@example.jp'));
    await expect(serviceWith(repository, 2).import('contacts', rows, { skipInvalid: true })).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    });
    expect(repository.committed).toBeUndefined();
  });

  it('turns a unique violation met while writing into a conflict', async () => {
    const repository = new FakeRepository();
    repository.failWrites = true;
    const error: unknown = await serviceWith(repository)
      .import('contacts', rowsOf(contact('c-1', 'a@example.jp')), { skipInvalid: false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(ErrorCode.Conflict);
  });

  it('takes no connection until the first batch is ready, so a stalled body holds none', async () => {
    const repository = new FakeRepository();
    let resume = () => {};
    const stalled = new Promise<void>((resolve) => (resume = resolve));
    async function* rows(): AsyncGenerator<SourceRow> {
      yield { line: 1, ok: true, record: contact('c-1', 'a@example.jp') };
      await stalled;
      for (let i = 2; i <= IMPORT_BATCH_SIZE + 1; i++) {
        yield { line: i, ok: true, record: contact(`c-${i}`, `${i}@example.jp`) };
      }
    }
    const importing = serviceWith(repository, 10_000).import('contacts', rows(), { skipInvalid: false });
    for (let i = 0; i < 10; i++) await setImmediate();
    expect(repository.began).toBe(false);
    resume();
    const outcome = await importing;
    expect(repository.began).toBe(true);
    expect(outcome).toMatchObject({ committed: true, rows: IMPORT_BATCH_SIZE + 1, created: IMPORT_BATCH_SIZE + 1 });
    expect(repository.committed).toBe(true);
  });

  it('takes no connection when no row is valid, and still reports them all', async () => {
    const repository = new FakeRepository();
    const outcome = await serviceWith(repository).import(
      'contacts',
      rowsOf(contact('c-1', 'nope'), { externalId: 'c-2' }),
      { skipInvalid: false },
    );
    expect(repository.began).toBe(false);
    expect(outcome).toMatchObject({ committed: false, rows: 2, valid: 0, invalid: 2, totalIssues: 3 });
  });

  it('stops reading the body when the connection cannot be taken', async () => {
    const repository = new FakeRepository();
    repository.inTransaction = () => Promise.reject(new Error('no connection'));
    let closed = false;
    async function* rows(): AsyncGenerator<SourceRow> {
      try {
        for (let line = 1; ; line++) yield { line, ok: true, record: contact(`c-${line}`, `${line}@example.jp`) };
      } finally {
        closed = true;
      }
    }
    await expect(serviceWith(repository, 1_000_000).import('contacts', rows(), { skipInvalid: false })).rejects.toThrow(
      'no connection',
    );
    expect(closed).toBe(true);
  });
});
