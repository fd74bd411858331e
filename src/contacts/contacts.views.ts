import type { Attributes } from '../common/json';
import type { AccountEntity } from './account.entity';
import type { ContactEntity } from './contact.entity';
import type { CsmEntity } from './csm.entity';

export interface CsmView {
  id: string;
  externalId: string;
  name: string;
  email: string;
  locale: 'ja' | 'en';
  notificationWebhookUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toCsmView(csm: CsmEntity): CsmView {
  return {
    id: csm.id,
    externalId: csm.externalId,
    name: csm.name,
    email: csm.email,
    locale: csm.locale,
    notificationWebhookUrl: csm.notificationWebhookUrl,
    createdAt: csm.createdAt.toISOString(),
    updatedAt: csm.updatedAt.toISOString(),
  };
}

export interface AccountView {
  id: string;
  externalId: string;
  name: string;
  plan: string | null;
  arrAmount: number | null;
  arrCurrency: string | null;
  ownerCsmExternalId: string | null;
  contractStartDate: string | null;
  renewalDate: string | null;
  timeZone: string | null;
  locale: 'ja' | 'en' | null;
  status: string;
  attributes: Attributes;
  createdAt: string;
  updatedAt: string;
}

export function toAccountView(account: AccountEntity, ownerCsmExternalId: string | null): AccountView {
  return {
    id: account.id,
    externalId: account.externalId,
    name: account.name,
    plan: account.plan,
    arrAmount: account.arrAmount === null ? null : Number(account.arrAmount),
    arrCurrency: account.arrCurrency,
    ownerCsmExternalId,
    contractStartDate: account.contractStartDate,
    renewalDate: account.renewalDate,
    timeZone: account.timeZone,
    locale: account.locale,
    status: account.status,
    attributes: account.attributes,
    createdAt: account.createdAt.toISOString(),
    updatedAt: account.updatedAt.toISOString(),
  };
}

export interface ContactView {
  id: string;
  externalId: string;
  accountExternalId: string;
  email: string;
  name: string | null;
  roles: string[];
  locale: 'ja' | 'en' | null;
  timeZone: string | null;
  status: string;
  consent: { basis: string; at: string | null; method: string | null; source: string | null } | null;
  emailTracking: 'full' | 'clicks' | 'none' | null;
  attributes: Attributes;
  createdAt: string;
  updatedAt: string;
}

export function toContactView(contact: ContactEntity, accountExternalId: string): ContactView {
  return {
    id: contact.id,
    externalId: contact.externalId,
    accountExternalId,
    email: contact.email,
    name: contact.name,
    roles: contact.roles,
    locale: contact.locale,
    timeZone: contact.timeZone,
    status: contact.status,
    consent:
      contact.consentBasis === null
        ? null
        : {
            basis: contact.consentBasis,
            at: contact.consentAt?.toISOString() ?? null,
            method: contact.consentMethod,
            source: contact.consentSource,
          },
    emailTracking: contact.emailTracking,
    attributes: contact.attributes,
    createdAt: contact.createdAt.toISOString(),
    updatedAt: contact.updatedAt.toISOString(),
  };
}
