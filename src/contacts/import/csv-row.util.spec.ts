import { contactInputSchema } from '../contacts.schemas';
import { type CsvColumn, csvCellsToInput, parseCsvHeader } from './csv-row.util';

function columnsOf(kind: 'csms' | 'accounts' | 'contacts', header: string[]): CsvColumn[] {
  const parsed = parseCsvHeader(kind, header);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.columns;
}

describe('parseCsvHeader', () => {
  it('accepts fields, consent and attribute columns, trimming names', () => {
    const columns = columnsOf('contacts', [
      'externalId',
      ' accountExternalId ',
      'email',
      'roles',
      'consent.basis',
      'attributes.plan_tier',
    ]);
    expect(columns).toEqual([
      { kind: 'field', name: 'externalId', type: 'text' },
      { kind: 'field', name: 'accountExternalId', type: 'text' },
      { kind: 'field', name: 'email', type: 'text' },
      { kind: 'field', name: 'roles', type: 'list' },
      { kind: 'consent', name: 'basis' },
      { kind: 'attribute', name: 'plan_tier' },
    ]);
  });

  it('collects every problem of the header', () => {
    const parsed = parseCsvHeader('contacts', [
      'externalId',
      'email',
      'email',
      'favourite',
      '',
      'consent.when',
      'attributes.Bad Name',
    ]);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues.map((i) => i.path)).toEqual([
      'email',
      'favourite',
      '(column 5)',
      'consent.when',
      'attributes.Bad Name',
      'accountExternalId',
    ]);
    expect(parsed.issues[0]?.message).toBe('appears twice in the header');
    expect(parsed.issues[5]?.message).toBe('is a required column and is missing');
  });

  it('lists at most the cap of problems but counts them all', () => {
    const parsed = parseCsvHeader('csms', ['', ...Array.from({ length: 20 }, () => 'a')], 5);
    expect(parsed).toEqual({
      ok: false,
      issues: [
        { path: '(column 1)', message: 'has no name' },
        ...Array.from({ length: 4 }, () => ({
          path: 'a',
          message: expect.stringMatching(/^is not a known column/) as unknown,
        })),
      ],
      total: 24,
    });
    const big = parseCsvHeader(
      'csms',
      Array.from({ length: 5000 }, () => 'a'),
    );
    expect(!big.ok && [big.issues.length, big.total]).toEqual([1000, 5003]);
  });

  it('knows which kinds have attributes and consent', () => {
    expect(parseCsvHeader('csms', ['externalId', 'name', 'email', 'attributes.x']).ok).toBe(false);
    expect(parseCsvHeader('accounts', ['externalId', 'name', 'consent.basis']).ok).toBe(false);
    expect(parseCsvHeader('accounts', ['externalId', 'name', 'arrAmount', 'attributes.seats']).ok).toBe(true);
  });
});

describe('csvCellsToInput', () => {
  it('drops empty cells, splits roles and builds consent and attributes', () => {
    const columns = columnsOf('contacts', [
      'externalId',
      'accountExternalId',
      'email',
      'name',
      'roles',
      'consent.basis',
      'consent.at',
      'consent.method',
      'consent.source',
      'attributes.seats',
      'attributes.tier',
    ]);
    const input = csvCellsToInput(columns, [
      'c-1',
      'acme',
      ' Taro@Acme.jp ',
      '',
      'admin; champion;',
      'opt_in',
      '2026-04-01T10:00:00+09:00',
      'web_form',
      'https://acme.example/signup',
      '40',
      '   ',
    ]);
    expect(input).toEqual({
      externalId: 'c-1',
      accountExternalId: 'acme',
      email: 'Taro@Acme.jp',
      roles: ['admin', 'champion'],
      consent: {
        basis: 'opt_in',
        at: '2026-04-01T10:00:00+09:00',
        method: 'web_form',
        source: 'https://acme.example/signup',
      },
      attributes: { seats: '40' },
    });
    expect(contactInputSchema.safeParse(input).success).toBe(true);
  });

  it('reads arrAmount as a number only when it is one', () => {
    const columns = columnsOf('accounts', ['externalId', 'name', 'arrAmount']);
    expect(csvCellsToInput(columns, ['a', 'A', '1200000.50'])).toEqual({
      externalId: 'a',
      name: 'A',
      arrAmount: 1200000.5,
    });
    expect(csvCellsToInput(columns, ['a', 'A', '1,200'])).toEqual({ externalId: 'a', name: 'A', arrAmount: '1,200' });
  });

  it('treats missing trailing cells as empty', () => {
    const columns = columnsOf('csms', ['externalId', 'name', 'email', 'locale']);
    expect(csvCellsToInput(columns, ['s', 'Sato', 's@x.jp'])).toEqual({
      externalId: 's',
      name: 'Sato',
      email: 's@x.jp',
    });
  });
});
