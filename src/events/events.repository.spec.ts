import { type AppendableEventRow, eventRowsJson } from './events.repository';

const row = (over: Partial<AppendableEventRow> = {}): AppendableEventRow => ({
  type: 'feature_used',
  occurredAt: '2026-12-03T09:00:00.123456+09:00',
  receivedAt: new Date('2026-12-03T00:00:01.5Z'),
  accountId: '0190a4b2-0000-7000-8000-000000000001',
  contactId: null,
  visitorId: null,
  source: 'api',
  idempotencyKey: 'evt-1',
  props: { feature: 'exports', rows: 12, firstTime: false, note: null },
  ...over,
});

/** What JSON.stringify of the rows gives, with the null references left out. */
function expected(rows: AppendableEventRow[]): unknown {
  return (JSON.parse(JSON.stringify(rows)) as Record<string, unknown>[]).map((r) =>
    Object.fromEntries(
      Object.entries(r).filter(([k, v]) => !(['accountId', 'contactId', 'visitorId'].includes(k) && v === null)),
    ),
  );
}

describe('eventRowsJson', () => {
  it('writes the rows JSON.stringify would, leaving out null references', () => {
    const rows = [
      row(),
      row({ contactId: '0190a4b2-0000-7000-8000-000000000002', idempotencyKey: 'evt-2' }),
      row({ accountId: null, visitorId: 'v-1', source: 'tracking', occurredAt: new Date('2026-12-01T00:00:00Z') }),
    ];
    const json = eventRowsJson(rows);
    expect(JSON.parse(json)).toEqual(expected(rows));
    expect(json).not.toContain('"contactId":null');
  });

  it('escapes whatever a key or a prop holds exactly as JSON.stringify does', () => {
    const tricky = 'quote " backslash \\ newline \n tab \t nul-less \u0001 line-sep \u2028 emoji 🎉 日本語 </script>';
    const rows = [row({ idempotencyKey: tricky, props: { [tricky]: tricky, n: -0.5e-7, big: 1e21 } })];
    const json = eventRowsJson(rows);
    expect(JSON.parse(json)).toEqual(expected(rows));
    expect(json).toContain(JSON.stringify(tricky));
  });

  it('is an empty array for no rows', () => {
    expect(eventRowsJson([])).toBe('[]');
  });
});
