/**
 * Deterministic import bodies for tests and benchmarks: N rows of accounts or
 * contacts as NDJSON (or contacts as CSV), shaped like the single-create inputs.
 * No test framework imports, so a benchmark can use it too.
 */

export interface GenerateOptions {
  /** Prefix of the generated external ids (and of contact emails); default `acc` / `c`. */
  prefix?: string;
  /** Number of the first row; default 1. */
  start?: number;
}

const ROLE_SETS = [['admin'], ['operator'], ['decision_maker', 'champion'], []] as const;

/** The single-create input of generated contact number `i`, spread over `accountExternalIds`. */
export function generatedContact(
  i: number,
  accountExternalIds: readonly string[],
  prefix = 'c',
): Record<string, unknown> {
  if (accountExternalIds.length === 0) throw new Error('at least one account external id is needed');
  const contact: Record<string, unknown> = {
    externalId: `${prefix}-${i}`,
    accountExternalId: accountExternalIds[i % accountExternalIds.length],
    email: `${prefix}.${i}@example.co.jp`,
    name: `Contact ${i}`,
    roles: ROLE_SETS[i % ROLE_SETS.length],
    locale: i % 2 === 0 ? 'ja' : 'en',
    timeZone: 'Asia/Tokyo',
    status: 'active',
    attributes: { tier: i % 3 === 0 ? 'gold' : 'silver' },
  };
  if (i % 4 === 0) {
    contact.consent = {
      basis: 'opt_in',
      at: '2026-04-01T10:00:00+09:00',
      method: 'web_form',
      source: 'https://example.co.jp/signup',
    };
  }
  return contact;
}

/** `n` contacts as NDJSON, one per line, ending with a newline. */
export function generateContactsNdjson(
  n: number,
  accountExternalIds: readonly string[],
  options: GenerateOptions = {},
): string {
  const { prefix = 'c', start = 1 } = options;
  const lines: string[] = [];
  for (let i = start; i < start + n; i++) lines.push(JSON.stringify(generatedContact(i, accountExternalIds, prefix)));
  return `${lines.join('\n')}\n`;
}

export const CONTACT_CSV_HEADER = [
  'externalId',
  'accountExternalId',
  'email',
  'name',
  'roles',
  'locale',
  'timeZone',
  'status',
  'consent.basis',
  'consent.at',
  'consent.method',
  'consent.source',
  'attributes.tier',
];

/** The same contacts as CSV: a header line then one line per contact (data row k is line k + 1). */
export function generateContactsCsv(
  n: number,
  accountExternalIds: readonly string[],
  options: GenerateOptions = {},
): string {
  const { prefix = 'c', start = 1 } = options;
  const lines = [CONTACT_CSV_HEADER.join(',')];
  for (let i = start; i < start + n; i++) {
    const c = generatedContact(i, accountExternalIds, prefix) as {
      externalId: string;
      accountExternalId: string;
      email: string;
      name: string;
      roles: readonly string[];
      locale: string;
      timeZone: string;
      status: string;
      consent?: { basis: string; at: string; method: string; source: string };
      attributes: { tier: string };
    };
    lines.push(
      [
        c.externalId,
        c.accountExternalId,
        c.email,
        c.name,
        c.roles.join(';'),
        c.locale,
        c.timeZone,
        c.status,
        c.consent?.basis ?? '',
        c.consent?.at ?? '',
        c.consent?.method ?? '',
        c.consent?.source ?? '',
        c.attributes.tier,
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `n` accounts as NDJSON; the external ids are `${prefix}-${i}`. */
export function generateAccountsNdjson(
  n: number,
  options: GenerateOptions & { ownerCsmExternalIds?: readonly string[] } = {},
): string {
  const { prefix = 'acc', start = 1, ownerCsmExternalIds = [] } = options;
  const lines: string[] = [];
  for (let i = start; i < start + n; i++) {
    const owner = ownerCsmExternalIds.length > 0 ? ownerCsmExternalIds[i % ownerCsmExternalIds.length] : undefined;
    lines.push(
      JSON.stringify({
        externalId: `${prefix}-${i}`,
        name: `Account ${i} 株式会社`,
        plan: i % 2 === 0 ? 'standard' : 'enterprise',
        arrAmount: 1_200_000 + i,
        arrCurrency: 'JPY',
        ...(owner === undefined ? {} : { ownerCsmExternalId: owner }),
        contractStartDate: '2026-04-01',
        renewalDate: '2027-03-31',
        timeZone: 'Asia/Tokyo',
        attributes: { industry: i % 2 === 0 ? 'manufacturing' : 'retail', seats: 10 + (i % 90) },
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The external ids `generateAccountsNdjson(n, options)` creates. */
export function generatedAccountIds(n: number, options: GenerateOptions = {}): string[] {
  const { prefix = 'acc', start = 1 } = options;
  return Array.from({ length: n }, (_, k) => `${prefix}-${start + k}`);
}
