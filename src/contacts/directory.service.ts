import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DomainError, ErrorCode } from '../common/domain-error';
import { normaliseEmail } from '../common/email';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination';
import { parseOrThrow } from '../common/zod-issues';
import { AccountEntity } from './account.entity';
import { ContactEntity } from './contact.entity';
import {
  type AccountInput,
  accountInputSchema,
  type ContactInput,
  contactInputSchema,
  type CsmInput,
  csmInputSchema,
} from './contacts.schemas';
import {
  toAccountView,
  toContactView,
  toCsmView,
  type AccountView,
  type ContactView,
  type CsmView,
} from './contacts.views';
import { CsmEntity } from './csm.entity';
import { DirectoryRepository } from './directory.repository';

export type WriteMode = 'create' | 'replace';

/** Accounts, contacts and CSMs one at a time: create, read, update, list. */
@Injectable()
export class DirectoryService {
  constructor(private readonly repository: DirectoryRepository) {}

  // ---- CSMs -------------------------------------------------------------

  async getCsm(externalId: string): Promise<CsmView> {
    return toCsmView(await this.requireCsm(externalId));
  }

  async createCsm(input: CsmInput): Promise<CsmView> {
    return this.repository.transaction(async (m) => {
      if (await this.repository.findCsm(input.externalId, m)) throw alreadyExists('CSM', input.externalId);
      return toCsmView(await this.writeCsm(new CsmEntity(), input, m));
    });
  }

  async updateCsm(externalId: string, patch: Partial<CsmInput>): Promise<CsmView> {
    return this.repository.transaction(async (m) => {
      const existing = await this.requireCsm(externalId, m);
      const merged = parseOrThrow(csmInputSchema, { ...csmToInput(existing), ...patch, externalId });
      return toCsmView(await this.writeCsm(existing, merged, m));
    });
  }

  async listCsms(limit: number, cursor: string | undefined): Promise<Page<CsmView>> {
    const rows = await this.repository.listPage(CsmEntity, afterKey(cursor), limit);
    return page(rows.map(toCsmView), limit);
  }

  private async writeCsm(entity: CsmEntity, input: CsmInput, m: EntityManager): Promise<CsmEntity> {
    const email = normaliseEmail(input.email);
    entity.externalId = input.externalId;
    entity.name = input.name;
    entity.email = email;
    entity.locale = input.locale ?? entity.locale ?? 'ja';
    entity.notificationWebhookUrl = input.notificationWebhookUrl ?? null;
    return this.repository.save(entity, m).catch(rethrowUnique);
  }

  // ---- accounts ---------------------------------------------------------

  async getAccount(externalId: string): Promise<AccountView> {
    const account = await this.requireAccount(externalId);
    return this.accountView(account);
  }

  async createAccount(input: AccountInput): Promise<AccountView> {
    return this.repository.transaction(async (m) => {
      if (await this.repository.findAccount(input.externalId, m)) throw alreadyExists('account', input.externalId);
      return this.accountView(await this.writeAccount(new AccountEntity(), input, m), m);
    });
  }

  async updateAccount(externalId: string, patch: Partial<AccountInput>): Promise<AccountView> {
    return this.repository.transaction(async (m) => {
      const existing = await this.requireAccount(externalId, m);
      const current = await this.accountView(existing, m);
      const merged = parseOrThrow(accountInputSchema, { ...accountViewToInput(current), ...patch, externalId });
      return this.accountView(await this.writeAccount(existing, merged, m), m);
    });
  }

  async listAccounts(limit: number, cursor: string | undefined): Promise<Page<AccountView>> {
    const rows = await this.repository.listPage(AccountEntity, afterKey(cursor), limit);
    const owners = await this.repository.csmExternalIds(unique(rows.map((r) => r.ownerCsmId)));
    return page(
      rows.map((r) => toAccountView(r, r.ownerCsmId ? (owners.get(r.ownerCsmId) ?? null) : null)),
      limit,
    );
  }

  private async writeAccount(entity: AccountEntity, input: AccountInput, m: EntityManager): Promise<AccountEntity> {
    let ownerCsmId: string | null = null;
    if (input.ownerCsmExternalId) {
      const owner = await this.repository.findCsm(input.ownerCsmExternalId, m);
      if (!owner) throw unknownReference('ownerCsmExternalId', 'CSM', input.ownerCsmExternalId);
      ownerCsmId = owner.id;
    }
    entity.externalId = input.externalId;
    entity.name = input.name;
    entity.plan = input.plan ?? null;
    entity.arrAmount = input.arrAmount == null ? null : input.arrAmount.toFixed(2);
    entity.arrCurrency = input.arrCurrency ?? null;
    entity.ownerCsmId = ownerCsmId;
    entity.contractStartDate = input.contractStartDate ?? null;
    entity.renewalDate = input.renewalDate ?? null;
    entity.timeZone = input.timeZone ?? null;
    entity.locale = input.locale ?? null;
    entity.status = input.status ?? entity.status ?? 'active';
    entity.attributes = input.attributes ?? entity.attributes ?? {};
    return this.repository.save(entity, m).catch(rethrowUnique);
  }

  private async accountView(account: AccountEntity, m?: EntityManager): Promise<AccountView> {
    const owner = account.ownerCsmId ? await this.repository.findCsmById(account.ownerCsmId, m) : null;
    return toAccountView(account, owner?.externalId ?? null);
  }

  // ---- contacts ---------------------------------------------------------

  async getContact(externalId: string): Promise<ContactView> {
    const contact = await this.requireContact(externalId);
    return this.contactView(contact);
  }

  async createContact(input: ContactInput): Promise<ContactView> {
    return this.repository.transaction(async (m) => {
      if (await this.repository.findContact(input.externalId, m)) throw alreadyExists('contact', input.externalId);
      const saved = await this.writeContact(new ContactEntity(), input, m);
      return toContactView(saved, input.accountExternalId);
    });
  }

  async updateContact(externalId: string, patch: Partial<ContactInput>): Promise<ContactView> {
    return this.repository.transaction(async (m) => {
      const existing = await this.requireContact(externalId, m);
      const current = await this.contactView(existing, m);
      const merged = parseOrThrow(contactInputSchema, { ...contactViewToInput(current), ...patch, externalId });
      const saved = await this.writeContact(existing, merged, m);
      return toContactView(saved, merged.accountExternalId);
    });
  }

  async listContacts(limit: number, cursor: string | undefined): Promise<Page<ContactView>> {
    const rows = await this.repository.listPage(ContactEntity, afterKey(cursor), limit);
    const accounts = await this.repository.accountExternalIds(unique(rows.map((r) => r.accountId)));
    return page(
      rows.map((r) => toContactView(r, accounts.get(r.accountId) ?? '')),
      limit,
    );
  }

  private async writeContact(entity: ContactEntity, input: ContactInput, m: EntityManager): Promise<ContactEntity> {
    const account = await this.repository.findAccount(input.accountExternalId, m);
    if (!account) throw unknownReference('accountExternalId', 'account', input.accountExternalId);
    const email = normaliseEmail(input.email);
    const holder = await this.repository.findContactByEmail(email, m);
    if (holder && holder.externalId !== input.externalId) {
      throw new DomainError(ErrorCode.Conflict, 'Another contact already has this email address', [
        { path: 'email', message: `already belongs to contact ${holder.externalId}` },
      ]);
    }
    entity.externalId = input.externalId;
    entity.accountId = account.id;
    entity.email = email;
    entity.name = input.name ?? null;
    entity.roles = [...new Set(input.roles ?? [])];
    entity.locale = input.locale ?? null;
    entity.timeZone = input.timeZone ?? null;
    entity.status = input.status ?? entity.status ?? 'active';
    entity.consentBasis = input.consent?.basis ?? null;
    entity.consentAt = input.consent?.at ? new Date(input.consent.at) : null;
    entity.consentMethod = input.consent?.method ?? null;
    entity.consentSource = input.consent?.source ?? null;
    entity.emailTracking = input.emailTracking ?? null;
    entity.attributes = input.attributes ?? entity.attributes ?? {};
    return this.repository.save(entity, m).catch(rethrowUnique);
  }

  private async contactView(contact: ContactEntity, m?: EntityManager): Promise<ContactView> {
    const account = await this.repository.findAccountById(contact.accountId, m);
    return toContactView(contact, account?.externalId ?? '');
  }

  // ---- lookups ----------------------------------------------------------

  async requireCsm(externalId: string, m?: EntityManager): Promise<CsmEntity> {
    const csm = await this.repository.findCsm(externalId, m);
    if (!csm) throw notFound('CSM', externalId);
    return csm;
  }

  async requireAccount(externalId: string, m?: EntityManager): Promise<AccountEntity> {
    const account = await this.repository.findAccount(externalId, m);
    if (!account) throw notFound('account', externalId);
    return account;
  }

  async requireContact(externalId: string, m?: EntityManager): Promise<ContactEntity> {
    const contact = await this.repository.findContact(externalId, m);
    if (!contact) throw notFound('contact', externalId);
    return contact;
  }
}

function csmToInput(csm: CsmEntity): CsmInput {
  return {
    externalId: csm.externalId,
    name: csm.name,
    email: csm.email,
    locale: csm.locale,
    notificationWebhookUrl: csm.notificationWebhookUrl,
  };
}

function accountViewToInput(view: AccountView): AccountInput {
  const { id: _id, createdAt: _c, updatedAt: _u, status, ...rest } = view;
  return { ...rest, status: status as AccountInput['status'] };
}

function contactViewToInput(view: ContactView): ContactInput {
  const { id: _id, createdAt: _c, updatedAt: _u, consent, roles, status, ...rest } = view;
  return {
    ...rest,
    roles: roles as ContactInput['roles'],
    status: status as ContactInput['status'],
    consent:
      consent === null
        ? null
        : consent.basis === 'opt_in'
          ? { basis: 'opt_in', at: consent.at ?? '', method: consent.method ?? '', source: consent.source ?? '' }
          : {
              basis: 'existing_relationship',
              ...(consent.at ? { at: consent.at } : {}),
              ...(consent.method ? { method: consent.method } : {}),
              ...(consent.source ? { source: consent.source } : {}),
            },
  };
}

function afterKey(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const [key] = decodeCursor(cursor, 1);
  return String(key);
}

function page<T extends { externalId: string }>(items: T[], limit: number): Page<T> {
  const last = items.at(-1);
  return { items, nextCursor: items.length === limit && last ? encodeCursor([last.externalId]) : null };
}

function unique(values: (string | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== null))];
}

function notFound(what: string, externalId: string): DomainError {
  return new DomainError(ErrorCode.NotFound, `No ${what} with external id ${externalId}`);
}

function alreadyExists(what: string, externalId: string): DomainError {
  return new DomainError(ErrorCode.Conflict, `A ${what} with external id ${externalId} already exists`, [
    { path: 'externalId', message: 'already exists; use PATCH to update' },
  ]);
}

function unknownReference(path: string, what: string, externalId: string): DomainError {
  return new DomainError(ErrorCode.Invalid, `Unknown ${what}`, [
    { path, message: `no ${what} with external id ${externalId}` },
  ]);
}

/** Concurrent writers can still meet a unique constraint: report it as a conflict naming the field. */
function rethrowUnique(error: unknown): never {
  const pg = error as { driverError?: { code?: string; constraint?: string } };
  if (pg.driverError?.code === '23505') {
    const field = pg.driverError.constraint?.endsWith('_email') ? 'email' : 'externalId';
    throw new DomainError(ErrorCode.Conflict, 'Conflicts with an existing record', [
      { path: field, message: 'already exists' },
    ]);
  }
  throw error;
}
