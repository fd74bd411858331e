import { attributesSchema, type AccountInput, type ContactInput, type CsmInput } from '../contacts.schemas';
import { MAX_REPORTED_ISSUES } from './import-report';
import type { ImportKind, RowIssue } from './import.types';

/** How a cell becomes a value: kept as text, read as a number, or split on `;` into a list. */
type CellType = 'text' | 'number' | 'list';

/** One column of an import CSV, from its header. */
export type CsvColumn =
  | { kind: 'field'; name: string; type: CellType }
  | { kind: 'consent'; name: ConsentField }
  | { kind: 'attribute'; name: string };

type ConsentField = 'basis' | 'at' | 'method' | 'source';
const CONSENT_FIELDS: readonly ConsentField[] = ['basis', 'at', 'method', 'source'];

const csmFields = {
  externalId: 'text',
  name: 'text',
  email: 'text',
  locale: 'text',
  notificationWebhookUrl: 'text',
} satisfies Record<keyof CsmInput, CellType>;

const accountFields = {
  externalId: 'text',
  name: 'text',
  plan: 'text',
  arrAmount: 'number',
  arrCurrency: 'text',
  ownerCsmExternalId: 'text',
  contractStartDate: 'text',
  renewalDate: 'text',
  timeZone: 'text',
  locale: 'text',
  status: 'text',
} satisfies Record<Exclude<keyof AccountInput, 'attributes'>, CellType>;

const contactFields = {
  externalId: 'text',
  accountExternalId: 'text',
  email: 'text',
  name: 'text',
  roles: 'list',
  locale: 'text',
  timeZone: 'text',
  status: 'text',
  emailTracking: 'text',
} satisfies Record<Exclude<keyof ContactInput, 'attributes' | 'consent'>, CellType>;

interface CsvShape {
  fields: Record<string, CellType>;
  required: readonly string[];
  attributes: boolean;
  consent: boolean;
}

const shapes: Record<ImportKind, CsvShape> = {
  csms: { fields: csmFields, required: ['externalId', 'name', 'email'], attributes: false, consent: false },
  accounts: { fields: accountFields, required: ['externalId', 'name'], attributes: true, consent: false },
  contacts: {
    fields: contactFields,
    required: ['externalId', 'accountExternalId', 'email'],
    attributes: true,
    consent: true,
  },
};

const ATTRIBUTE_PREFIX = 'attributes.';
const CONSENT_PREFIX = 'consent.';

/** The issues of a header, at most the cap of them, and how many there were in all. */
export interface CsvHeaderIssues {
  ok: false;
  issues: RowIssue[];
  total: number;
}

/**
 * Reads the header row of an import CSV: every column must be a field of the
 * kind's input (`consent.basis`… and `attributes.<name>` where the kind has
 * them), named once; the required fields must be there. Counts every problem and
 * lists the first `maxIssues` (a header of 500,000 bad columns is one bad line,
 * not a 100 MB answer).
 */
export function parseCsvHeader(
  kind: ImportKind,
  header: readonly string[],
  maxIssues: number = MAX_REPORTED_ISSUES,
): { ok: true; columns: CsvColumn[] } | CsvHeaderIssues {
  const shape = shapes[kind];
  const columns: CsvColumn[] = [];
  const issues: RowIssue[] = [];
  let total = 0;
  const problem = (path: string, message: string) => {
    total += 1;
    if (issues.length < maxIssues) issues.push({ path, message });
  };
  const seen = new Set<string>();
  header.forEach((raw, index) => {
    const name = raw.trim();
    const column = toColumn(shape, name);
    if (name === '') {
      problem(`(column ${index + 1})`, 'has no name');
    } else if (typeof column === 'string') {
      problem(name, column);
    } else if (seen.has(name)) {
      problem(name, 'appears twice in the header');
    } else {
      columns.push(column);
    }
    seen.add(name);
  });
  for (const field of shape.required) {
    if (!seen.has(field)) problem(field, 'is a required column and is missing');
  }
  return total > 0 ? { ok: false, issues, total } : { ok: true, columns };
}

function toColumn(shape: CsvShape, name: string): CsvColumn | string {
  const type = Object.hasOwn(shape.fields, name) ? shape.fields[name] : undefined;
  if (type !== undefined) return { kind: 'field', name, type };
  if (shape.consent && name.startsWith(CONSENT_PREFIX)) {
    const field = name.slice(CONSENT_PREFIX.length) as ConsentField;
    if (CONSENT_FIELDS.includes(field)) return { kind: 'consent', name: field };
    return `is not a consent column; use ${CONSENT_FIELDS.map((f) => CONSENT_PREFIX + f).join(', ')}`;
  }
  if (shape.attributes && name.startsWith(ATTRIBUTE_PREFIX)) {
    const attribute = name.slice(ATTRIBUTE_PREFIX.length);
    const check = attributesSchema.safeParse({ [attribute]: '' });
    if (check.success) return { kind: 'attribute', name: attribute };
    return check.error.issues[0]?.message ?? 'is not a valid attribute name';
  }
  const extras = [shape.consent ? 'consent.*' : undefined, shape.attributes ? 'attributes.<name>' : undefined];
  const known = [...Object.keys(shape.fields), ...extras.filter((e) => e !== undefined)];
  return `is not a known column; expected ${known.join(', ')}`;
}

const numberPattern = /^-?\d+(\.\d+)?$/;

/**
 * Turns the cells of one data row into the input shape of the single-create
 * schema. Cells are trimmed and an empty cell means "not given". `arrAmount` is
 * read as a number when it looks like one (else left for the schema to reject),
 * `roles` is split on `;`, `consent.*` cells build the `consent` object and
 * `attributes.<name>` cells the `attributes` object, whose values stay text.
 */
export function csvCellsToInput(columns: readonly CsvColumn[], cells: readonly string[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  let consent: Record<string, string> | undefined;
  let attributes: Record<string, string> | undefined;
  columns.forEach((column, index) => {
    const value = cells[index]?.trim() ?? '';
    if (value === '') return;
    switch (column.kind) {
      case 'field':
        input[column.name] = readCell(value, column.type);
        break;
      case 'consent':
        consent ??= {};
        consent[column.name] = value;
        break;
      case 'attribute':
        attributes ??= {};
        attributes[column.name] = value;
        break;
    }
  });
  if (consent !== undefined) input.consent = consent;
  if (attributes !== undefined) input.attributes = attributes;
  return input;
}

function readCell(value: string, type: CellType): unknown {
  switch (type) {
    case 'text':
      return value;
    case 'number':
      return numberPattern.test(value) ? Number(value) : value;
    case 'list':
      return value
        .split(';')
        .map((part) => part.trim())
        .filter((part) => part !== '');
  }
}
