/** The functions of the expression language, for the checker, docs and suggestions. PURE. */
import type { FactScope } from '../facts/catalogue';

export type FunctionKind =
  'count' | 'visits' | 'days_since' | 'days_until' | 'coalesce' | 'segment' | 'opened' | 'clicked';

export interface FunctionDefinition {
  /** As written, dots included. */
  name: string;
  kind: FunctionKind;
  /** For count/visits: whose events. */
  scope?: FactScope;
  signature: string;
  returns: 'number' | 'boolean' | 'any';
  description: string;
  example: string;
}

/** Windows of count() and visits(): whole days, at most this many. */
export const MAX_WINDOW_DAYS = 400;

const countOf = (name: string, scope: FactScope): FunctionDefinition => ({
  name,
  kind: 'count',
  scope,
  signature: `${name}(type, window)`,
  returns: 'number',
  description:
    scope === 'account'
      ? 'Events of the type (a quoted event type) of the account in the last window (whole days, UTC).'
      : 'Events of the type of the contact in the last window (whole days, UTC).',
  example: `${name}('report_exported', 30d) >= 1`,
});

const visitsOf = (name: string, scope: FactScope): FunctionDefinition => ({
  name,
  kind: 'visits',
  scope,
  signature: `${name}(group, window)`,
  returns: 'number',
  description:
    scope === 'account'
      ? 'Page views on the sections of a page group, by site visitors linked to any contact of the account, in the last window.'
      : 'Page views on the sections of a page group by site visitors linked to the contact, in the last window.',
  example: `${name}('pricing', 14d) >= 2`,
});

export const FUNCTION_CATALOGUE: readonly FunctionDefinition[] = [
  countOf('count', 'account'),
  countOf('account.count', 'account'),
  countOf('contact.count', 'contact'),
  visitsOf('visits', 'account'),
  visitsOf('account.visits', 'account'),
  visitsOf('contact.visits', 'contact'),
  {
    name: 'days_since',
    kind: 'days_since',
    signature: 'days_since(date)',
    returns: 'number',
    description:
      "Whole days from the date to today in the account's time zone (negative for a future date); null for null.",
    example: 'days_since(account.contract_start) >= 7',
  },
  {
    name: 'days_until',
    kind: 'days_until',
    signature: 'days_until(date)',
    returns: 'number',
    description:
      "Whole days from today in the account's time zone to the date (negative for a past date); null for null.",
    example: 'days_until(account.renewal_date) <= 60',
  },
  {
    name: 'coalesce',
    kind: 'coalesce',
    signature: 'coalesce(a, b, ...)',
    returns: 'any',
    description: 'The first argument that is not null (all of one type).',
    example: 'coalesce(account.arr, 0) < 100_000',
  },
  {
    name: 'segment',
    kind: 'segment',
    signature: "segment('name')",
    returns: 'boolean',
    description: 'The condition of a named segment of scenarios/_catalog.yaml.',
    example: "segment('at-risk') and not account.has_owner",
  },
  {
    name: 'opened',
    kind: 'opened',
    signature: "opened('step')",
    returns: 'boolean',
    description: 'A human opened the message sent by that step of this journey (journey conditions only).',
    example: "not opened('welcome')",
  },
  {
    name: 'clicked',
    kind: 'clicked',
    signature: "clicked('step')",
    returns: 'boolean',
    description: 'A human clicked a link in the message sent by that step of this journey (journey conditions only).',
    example: "clicked('welcome')",
  },
];

const BY_NAME: ReadonlyMap<string, FunctionDefinition> = new Map(FUNCTION_CATALOGUE.map((f) => [f.name, f]));

export function findFunction(name: string): FunctionDefinition | undefined {
  return BY_NAME.get(name);
}
