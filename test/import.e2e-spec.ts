import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImportController } from '../src/contacts/import/import.controller';
import { BODY_IDLE_TIMEOUT_MS } from '../src/contacts/import/row-readers';
import {
  generateAccountsNdjson,
  generateContactsCsv,
  generateContactsNdjson,
  generatedAccountIds,
} from './support/generate-rows';
import { createTestApp, TEST_API_KEY, type TestApp } from './support/test-app';

const CSV = { 'content-type': 'text/csv' };
const NDJSON = { 'content-type': 'application/x-ndjson' };

interface Issue {
  line: number;
  path: string;
  message: string;
}
interface ImportRejected {
  error: string;
  message: string;
  issues: Issue[];
  summary: { rows: number; valid: number; invalid: number; created: number; updated: number; totalIssues: number };
}

function ndjson(...rows: unknown[]): string {
  return rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
}

async function count(t: TestApp, table: 'csms' | 'accounts' | 'contacts'): Promise<number> {
  const [row] = await t.db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`);
  return row?.n ?? -1;
}

describe('bulk import', () => {
  let t: TestApp;
  const accounts = generatedAccountIds(20);

  beforeAll(async () => {
    t = await createTestApp();
    const csms = await t.api(
      'POST',
      '/api/csms/import',
      ndjson(
        { externalId: 'csm-1', name: '佐藤 花子', email: 'Hanako@Example.jp' },
        { externalId: 'csm-2', name: 'Suzuki', email: 'suzuki@example.jp', locale: 'en' },
      ),
      NDJSON,
    );
    expect(csms.status).toBe(200);
    const imported = await t.api(
      'POST',
      '/api/accounts/import',
      generateAccountsNdjson(20, { ownerCsmExternalIds: ['csm-1', 'csm-2'] }),
      NDJSON,
    );
    expect(imported.json()).toEqual({ rows: 20, created: 20, updated: 0, skipped: 0, issues: [], totalIssues: 0 });
  });

  afterAll(async () => {
    await t.close();
  });

  describe('CSMs', () => {
    it('creates and then updates CSMs from CSV, normalising emails', async () => {
      const first = await t.api(
        'POST',
        '/api/csms/import',
        'externalId,name,email,locale\ncsm-3,Tanaka, Tanaka@Example.JP ,en\n',
        CSV,
      );
      expect(first.status).toBe(200);
      expect(first.json()).toMatchObject({ rows: 1, created: 1, updated: 0 });
      const second = await t.api(
        'POST',
        '/api/csms/import',
        'externalId,name,email\ncsm-3,田中,tanaka@example.jp\n',
        CSV,
      );
      expect(second.json()).toMatchObject({ rows: 1, created: 0, updated: 1 });
      const csm = (await t.api('GET', '/api/csms/csm-3')).json();
      // locale was not given the second time: it is kept.
      expect(csm).toMatchObject({ name: '田中', email: 'tanaka@example.jp', locale: 'en' });
    });

    it('reports an email that belongs to another CSM', async () => {
      const response = await t.api(
        'POST',
        '/api/csms/import',
        ndjson({ externalId: 'csm-4', name: 'X', email: 'HANAKO@example.jp' }),
        NDJSON,
      );
      expect(response.status).toBe(400);
      expect((response.json() as ImportRejected).issues).toEqual([
        { line: 1, path: 'email', message: 'already belongs to CSM csm-1' },
      ]);
    });

    it('lists at most 1000 issues but counts them all', async () => {
      const lines = Array.from({ length: 1500 }, (_, i) =>
        JSON.stringify({ externalId: `bad-${i}`, name: 'x', email: 'nope' }),
      );
      const response = await t.api('POST', '/api/csms/import', `${lines.join('\n')}\n`, NDJSON);
      expect(response.status).toBe(400);
      const body = response.json() as ImportRejected;
      expect(body.issues).toHaveLength(1000);
      expect(body.issues[999]).toEqual({ line: 1000, path: 'email', message: 'must be an email address' });
      expect(body.summary).toEqual({ rows: 1500, valid: 0, invalid: 1500, created: 0, updated: 0, totalIssues: 1500 });
    });

    it('lists the issues of the lowest lines, even one the database checks find after later ones', async () => {
      // Line 1 is rejected by the batch's database checks, once the whole file (one batch) is read;
      // the schema issues of lines 2-1501 are found before that.
      const lines = [
        JSON.stringify({ externalId: 'csm-held', name: 'x', email: 'hanako@example.jp' }),
        ...Array.from({ length: 1500 }, (_, i) =>
          JSON.stringify({ externalId: `late-${i}`, name: 'x', email: 'nope' }),
        ),
      ];
      const response = await t.api('POST', '/api/csms/import', `${lines.join('\n')}\n`, NDJSON);
      expect(response.status).toBe(400);
      const body = response.json() as ImportRejected;
      expect(body.issues).toHaveLength(1000);
      expect(body.issues[0]).toEqual({ line: 1, path: 'email', message: 'already belongs to CSM csm-1' });
      expect(body.issues.map((i) => i.line)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(body.summary.totalIssues).toBe(1501);
    });
  });

  describe('accounts', () => {
    it('resolves ownerCsmExternalId and reads CSV numbers and attributes', async () => {
      const csv = [
        'externalId,name,arrAmount,arrCurrency,ownerCsmExternalId,attributes.industry',
        'acc-csv-1,CSV 株式会社,1200000,JPY,csm-2,retail',
        'acc-csv-2,Orphan,,,,',
      ].join('\n');
      const response = await t.api('POST', '/api/accounts/import', csv, CSV);
      expect(response.json()).toMatchObject({ rows: 2, created: 2, skipped: 0 });
      expect((await t.api('GET', '/api/accounts/acc-csv-1')).json()).toMatchObject({
        arrAmount: 1200000,
        arrCurrency: 'JPY',
        ownerCsmExternalId: 'csm-2',
        status: 'active',
        attributes: { industry: 'retail' },
      });
      expect((await t.api('GET', '/api/accounts/acc-1')).json()).toMatchObject({ ownerCsmExternalId: 'csm-2' });
      expect((await t.api('GET', '/api/accounts/acc-2')).json()).toMatchObject({ ownerCsmExternalId: 'csm-1' });
    });

    it('reports an unknown owner CSM and updates only the given fields', async () => {
      const response = await t.api(
        'POST',
        '/api/accounts/import?skipInvalid=true',
        ndjson(
          { externalId: 'acc-csv-1', name: 'CSV 株式会社', status: 'churned', attributes: { seats: 12 } },
          { externalId: 'acc-csv-3', name: 'Nobody', ownerCsmExternalId: 'csm-404' },
        ),
        NDJSON,
      );
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({
        rows: 2,
        created: 0,
        updated: 1,
        skipped: 1,
        issues: [{ line: 2, path: 'ownerCsmExternalId', message: 'no CSM with external id csm-404' }],
        totalIssues: 1,
      });
      expect((await t.api('GET', '/api/accounts/acc-csv-1')).json()).toMatchObject({
        status: 'churned',
        arrAmount: 1200000,
        ownerCsmExternalId: 'csm-2',
        attributes: { industry: 'retail', seats: 12 },
      });
    });
  });

  describe('contacts', () => {
    it('rejects a 10,000-row CSV with two bad rows, reporting exactly them, and writes nothing', async () => {
      const lines = generateContactsCsv(10_000, accounts, { prefix: 'big' }).split('\n');
      // Line n of the file is lines[n - 1]; the header is line 1.
      lines[1233] = lines[1233]!.replace('big.1233@example.co.jp', 'not-an-email');
      lines[8764] = lines[8764]!.replace(/,acc-\d+,/, ',no-such-account,');
      const csv = lines.join('\n');
      const before = await count(t, 'contacts');

      const response = await t.api('POST', '/api/contacts/import', csv, CSV);
      expect(response.status).toBe(400);
      const body = response.json() as ImportRejected;
      expect(body.error).toBe('invalid');
      expect(body.issues).toEqual([
        { line: 1234, path: 'email', message: 'must be an email address' },
        { line: 8765, path: 'accountExternalId', message: 'no account with external id no-such-account' },
      ]);
      expect(body.summary).toEqual({ rows: 10_000, valid: 9_998, invalid: 2, created: 0, updated: 0, totalIssues: 2 });
      expect(await count(t, 'contacts')).toBe(before);

      const skipping = await t.api('POST', '/api/contacts/import?skipInvalid=true', csv, CSV);
      expect(skipping.status).toBe(200);
      expect(skipping.json()).toEqual({
        rows: 10_000,
        created: 9_998,
        updated: 0,
        skipped: 2,
        issues: body.issues,
        totalIssues: 2,
      });
      expect(await count(t, 'contacts')).toBe(before + 9_998);
      const contact = (await t.api('GET', '/api/contacts/big-4')).json();
      expect(contact).toMatchObject({
        email: 'big.4@example.co.jp',
        roles: ['admin'],
        consent: { basis: 'opt_in', method: 'web_form' },
        attributes: { tier: 'silver' },
      });
      expect((await t.api('GET', '/api/contacts/big-1233')).status).toBe(404);
    });

    it('reports a JSON syntax error by line and writes nothing', async () => {
      const [first, second, third] = generateContactsNdjson(3, accounts, { prefix: 'syn' }).trim().split('\n');
      const body = ndjson(first, '', second, '{"externalId": "syn-x", "email": ', third);
      const response = await t.api('POST', '/api/contacts/import', body, NDJSON);
      expect(response.status).toBe(400);
      const rejected = response.json() as ImportRejected;
      expect(rejected.issues).toHaveLength(1);
      expect(rejected.issues[0]).toMatchObject({ line: 4, path: '(row)' });
      expect(rejected.issues[0]?.message).toMatch(/^is not valid JSON/);
      expect(rejected.summary).toMatchObject({ rows: 4, valid: 3, invalid: 1 });
      expect((await t.api('GET', '/api/contacts/syn-1')).status).toBe(404);
    });

    it('reports a repeated external id or email at the later line, naming the earlier one', async () => {
      const response = await t.api(
        'POST',
        '/api/contacts/import',
        ndjson(
          { externalId: 'dup-1', accountExternalId: 'acc-1', email: 'dup1@example.jp' },
          { externalId: 'dup-2', accountExternalId: 'acc-1', email: 'dup2@example.jp' },
          { externalId: 'dup-1', accountExternalId: 'acc-2', email: 'dup3@example.jp' },
          { externalId: 'dup-4', accountExternalId: 'acc-2', email: ' DUP2@example.jp' },
        ),
        NDJSON,
      );
      expect(response.status).toBe(400);
      expect((response.json() as ImportRejected).issues).toEqual([
        { line: 3, path: 'externalId', message: 'repeats line 1: each externalId may appear only once in a file' },
        { line: 4, path: 'email', message: 'repeats line 2: each email may appear only once in a file' },
      ]);
    });

    it('updates an existing contact with the given fields only', async () => {
      const created = await t.api('POST', '/api/contacts', {
        externalId: 'up-1',
        accountExternalId: 'acc-1',
        email: 'up1@example.jp',
        name: 'Before',
        roles: ['champion'],
        attributes: { tier: 'gold', seats: 3 },
      });
      expect(created.status).toBe(201);
      const csv =
        'externalId,accountExternalId,email,name,roles,status,attributes.tier\nup-1,acc-2,UP1@example.jp,After,,left,silver\n';
      const response = await t.api('POST', '/api/contacts/import', csv, CSV);
      expect(response.json()).toEqual({ rows: 1, created: 0, updated: 1, skipped: 0, issues: [], totalIssues: 0 });
      expect((await t.api('GET', '/api/contacts/up-1')).json()).toMatchObject({
        accountExternalId: 'acc-2',
        email: 'up1@example.jp',
        name: 'After',
        roles: ['champion'],
        status: 'left',
        attributes: { tier: 'silver', seats: 3 },
      });
    });

    it('stores quotes, backslashes, braces, commas and line breaks as given', async () => {
      const name = 'O\'Brien "Bob" \\ {x,y} NULL';
      const csv = [
        'externalId,accountExternalId,email,name,attributes.note',
        `odd-1,acc-1,odd1@example.jp,"${name.replace(/"/g, '""')}","line one\nline two, ""quoted"" \\"`,
      ].join('\n');
      const response = await t.api('POST', '/api/contacts/import', csv, CSV);
      expect(response.json()).toMatchObject({ created: 1, skipped: 0 });
      expect((await t.api('GET', '/api/contacts/odd-1')).json()).toMatchObject({
        name,
        attributes: { note: 'line one\nline two, "quoted" \\' },
      });
    });

    it('reports an email that already belongs to another contact', async () => {
      const response = await t.api(
        'POST',
        '/api/contacts/import',
        ndjson({ externalId: 'up-2', accountExternalId: 'acc-1', email: 'up1@EXAMPLE.jp' }),
        NDJSON,
      );
      expect(response.status).toBe(400);
      expect((response.json() as ImportRejected).issues).toEqual([
        { line: 1, path: 'email', message: 'already belongs to contact up-1' },
      ]);
    });

    it('reports every schema issue of a row with its line', async () => {
      const csv = [
        'externalId,accountExternalId,email,roles,consent.basis',
        'ok-1,acc-1,ok1@example.jp,admin,',
        'bad 1,acc-1,bad@example.jp,admin;ceo,opt_in',
      ].join('\n');
      const response = await t.api('POST', '/api/contacts/import', csv, CSV);
      expect(response.status).toBe(400);
      const issues = (response.json() as ImportRejected).issues;
      expect(issues.every((i) => i.line === 3)).toBe(true);
      expect(issues.map((i) => i.path).sort()).toEqual([
        'consent.at',
        'consent.method',
        'consent.source',
        'externalId',
        'roles.1',
      ]);
    });

    it('rejects a CSV header with unknown columns before reading rows', async () => {
      const response = await t.api('POST', '/api/contacts/import', 'externalId,accountExternalId,email,colour\n', CSV);
      expect(response.status).toBe(400);
      expect(response.json()).toMatchObject({ error: 'invalid', issues: [{ line: 1, path: 'colour' }] });
    });
  });

  describe('bodies', () => {
    function post(url: string, payload: Buffer | PassThrough) {
      return t.app.inject({ method: 'POST', url, headers: { 'x-api-key': TEST_API_KEY, ...CSV }, payload });
    }

    it('rejects a file that is not UTF-8 (Shift_JIS from Excel), naming the line, and writes nothing', async () => {
      const sato = Buffer.from([0x8d, 0xb2, 0x93, 0xa1]); // 佐藤 in Shift_JIS
      const csv = Buffer.concat([
        Buffer.from('externalId,name,email\nsjis-1,Plain,sjis1@example.jp\nsjis-2,'),
        sato,
        Buffer.from(',sjis2@example.jp\n'),
      ]);
      const response = await post('/api/csms/import', csv);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: 'invalid',
        message: 'Line 3 is not valid UTF-8; nothing was imported',
        issues: [{ line: 3, path: '(file)', message: expect.stringContaining('save the file as UTF-8') as unknown }],
      });
      expect((await t.api('GET', '/api/csms/sjis-1')).status).toBe(404);
    });

    it('lists at most 1000 problems of a CSV header and says how many there are', async () => {
      const header = Array.from({ length: 20_000 }, () => 'a').join(',');
      const response = await t.api('POST', '/api/contacts/import', `${header}\n`, CSV);
      expect(response.status).toBe(400);
      const body = response.json() as { message: string; issues: Issue[] };
      expect(body.message).toBe(
        'The CSV header is not valid; nothing was imported (20003 problems; the first 1000 are listed)',
      );
      expect(body.issues).toHaveLength(1000);
    });

    it('names the physical line of broken quoting after a quoted cell with a line break', async () => {
      const response = await t.api('POST', '/api/accounts/import', 'externalId,name\r\n1,"a\r\nb"\r\n2,"x"y\r\n', CSV);
      expect(response.status).toBe(400);
      expect((response.json() as { issues: Issue[] }).issues).toEqual([
        { line: 4, path: '(file)', message: expect.stringContaining('at line 4') as unknown },
      ]);
    });

    describe('that stall', () => {
      const idleMs = 1500;
      let controller: ImportController;
      beforeAll(() => {
        controller = t.app.get(ImportController);
        controller.bodyIdleTimeoutMs = idleMs;
      });
      afterAll(() => {
        controller.bodyIdleTimeoutMs = BODY_IDLE_TIMEOUT_MS;
      });

      it('answer 408 and hold no connection while the first batch is not there yet', async () => {
        const body = new PassThrough();
        body.write('externalId,name,email\nstall-1,Stall,stall1@example.jp\n');
        const importing = post('/api/csms/import', body);
        await sleep(100);
        // On the embedded engine an import's open transaction would hold the only connection.
        const other = await Promise.race([
          t.api('GET', '/api/csms/csm-1').then((r) => r.status),
          sleep(idleMs / 2).then(() => 'blocked'),
        ]);
        expect(other).toBe(200);
        const response = await importing;
        body.end();
        expect(response.statusCode).toBe(408);
        expect(response.headers.connection).toBe('close');
        expect(response.json()).toEqual({
          error: 'request_timeout',
          message:
            'No part of the import body arrived for 1500 ms; the import was stopped and nothing was imported. ' +
            'Send the file again',
        });
        expect((await t.api('GET', '/api/csms/stall-1')).status).toBe(404);
      });

      it('roll back the rows already written when the body stalls after its first batch', async () => {
        const before = await count(t, 'csms');
        const body = new PassThrough();
        body.write('externalId,name,email\n');
        for (let i = 0; i < 2500; i++) body.write(`stall-b${i},Stall,stall-b${i}@example.jp\n`);
        const response = await post('/api/csms/import', body);
        body.end();
        expect(response.statusCode).toBe(408);
        expect(await count(t, 'csms')).toBe(before);
        expect((await t.api('GET', '/api/csms/csm-1')).status).toBe(200);
      });
    });
  });

  describe('requests', () => {
    it('answers 415 for other content types, even when the body is not JSON', async () => {
      for (const body of ['{"externalId":"x"}', 'externalId\nx\n']) {
        const response = await t.api('POST', '/api/contacts/import', body, { 'content-type': 'application/json' });
        expect(response.status).toBe(415);
        expect(response.json()).toEqual({
          error: 'unsupported_media_type',
          message: 'Import bodies must be text/csv or application/x-ndjson (UTF-8); got application/json',
        });
      }
      expect((await t.api('POST', '/api/accounts/import', 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    });

    it('answers 400 for unknown query parameters', async () => {
      const response = await t.api('POST', '/api/csms/import?dryRun=true', ndjson({}), NDJSON);
      expect(response.status).toBe(400);
      expect(response.json()).toMatchObject({ error: 'invalid', message: 'Invalid query' });
    });

    it('requires the API key', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/csms/import',
        headers: NDJSON,
        payload: ndjson({ externalId: 'k', name: 'k', email: 'k@example.jp' }),
      });
      expect(response.statusCode).toBe(401);
    });
  });
});

describe('bulk import limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ IMPORT_MAX_ROWS: '100', IMPORT_MAX_BYTES: '20000' });
  });
  afterAll(async () => {
    await t.close();
  });

  function csms(n: number): string {
    return ndjson(
      ...Array.from({ length: n }, (_, i) => ({
        externalId: `csm-${i}`,
        name: `CSM ${i}`,
        email: `csm${i}@example.jp`,
      })),
    );
  }

  it('answers 413 above the row limit and writes nothing', async () => {
    const response = await t.api('POST', '/api/csms/import?skipInvalid=true', csms(101), NDJSON);
    expect(response.status).toBe(413);
    expect(response.json()).toEqual({
      error: 'payload_too_large',
      message: 'The import has more than 100 rows; split the file',
    });
    expect(await count(t, 'csms')).toBe(0);
    const atLimit = await t.api('POST', '/api/csms/import', csms(100), NDJSON);
    expect(atLimit.json()).toMatchObject({ rows: 100, created: 100 });
  });

  it('answers 408 and writes nothing when the body trickles in past IMPORT_MAX_DURATION', async () => {
    const trickled = await createTestApp({ IMPORT_MAX_DURATION: '1s' });
    try {
      const body = new PassThrough();
      body.write('externalId,name,email\n');
      let i = 0;
      // A row every 50 ms: never idle for 30 s, never done.
      const trickle = setInterval(() => body.write(`slow-${i},Slow,slow${i++}@example.jp\n`), 50);
      const response = await trickled.app
        .inject({
          method: 'POST',
          url: '/api/csms/import',
          headers: { 'x-api-key': TEST_API_KEY, ...CSV },
          payload: body,
        })
        .finally(() => {
          clearInterval(trickle);
          body.end();
        });
      expect(response.statusCode).toBe(408);
      expect(response.json<{ message: string }>().message).toContain('within 1 s (IMPORT_MAX_DURATION)');
      expect(await count(trickled, 'csms')).toBe(0);
    } finally {
      await trickled.close();
    }
  });

  it('answers 413 above the byte limit', async () => {
    const body = `externalId,name,email\n${'x,y,z@example.jp\n'.repeat(1500)}`;
    const response = await t.api('POST', '/api/csms/import', body, CSV);
    expect(response.status).toBe(413);
    expect(response.json()).toMatchObject({ error: 'payload_too_large' });
  });
});
