import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In } from 'typeorm';
import { AccountEntity } from './account.entity';
import { ContactEntity } from './contact.entity';
import { CsmEntity } from './csm.entity';

/** Storage of CSMs, accounts and contacts. The only place these tables are read or written one row at a time. */
@Injectable()
export class DirectoryRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  findCsm(externalId: string, manager: EntityManager = this.dataSource.manager): Promise<CsmEntity | null> {
    return manager.findOne(CsmEntity, { where: { externalId } });
  }

  findCsmById(id: string, manager: EntityManager = this.dataSource.manager): Promise<CsmEntity | null> {
    return manager.findOne(CsmEntity, { where: { id } });
  }

  findAccount(externalId: string, manager: EntityManager = this.dataSource.manager): Promise<AccountEntity | null> {
    return manager.findOne(AccountEntity, { where: { externalId } });
  }

  findAccountById(id: string, manager: EntityManager = this.dataSource.manager): Promise<AccountEntity | null> {
    return manager.findOne(AccountEntity, { where: { id } });
  }

  findContact(externalId: string, manager: EntityManager = this.dataSource.manager): Promise<ContactEntity | null> {
    return manager.findOne(ContactEntity, { where: { externalId } });
  }

  findContactByEmail(email: string, manager: EntityManager = this.dataSource.manager): Promise<ContactEntity | null> {
    return manager.findOne(ContactEntity, { where: { email } });
  }

  async csmExternalIds(ids: string[], manager: EntityManager = this.dataSource.manager): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await manager.find(CsmEntity, { select: { id: true, externalId: true }, where: { id: In(ids) } });
    return new Map(rows.map((r) => [r.id, r.externalId]));
  }

  async accountExternalIds(
    ids: string[],
    manager: EntityManager = this.dataSource.manager,
  ): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await manager.find(AccountEntity, { select: { id: true, externalId: true }, where: { id: In(ids) } });
    return new Map(rows.map((r) => [r.id, r.externalId]));
  }

  save<E extends CsmEntity | AccountEntity | ContactEntity>(
    entity: E,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<E> {
    return manager.save(entity);
  }

  /** Keyset page ordered by external id. */
  listPage<E extends CsmEntity | AccountEntity | ContactEntity>(
    target: new () => E,
    afterExternalId: string | undefined,
    limit: number,
  ): Promise<E[]> {
    const qb = this.dataSource.manager.createQueryBuilder(target, 'e').orderBy('e.external_id', 'ASC').limit(limit);
    if (afterExternalId !== undefined) qb.where('e.external_id > :after', { after: afterExternalId });
    return qb.getMany();
  }
}
