import { createTestApp, type TestApp } from './support/test-app';

describe('admin API: CSMs, accounts and contacts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('rejects requests without a valid API key', async () => {
    expect((await t.api('GET', '/api/accounts', undefined, { 'x-api-key': 'wrong' })).status).toBe(401);
    const response = await t.app.inject({ method: 'GET', url: '/api/accounts' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('creates, reads and updates a CSM, an account and a contact', async () => {
    const csm = await t.api('POST', '/api/csms', {
      externalId: 'csm-1',
      name: '佐藤 花子',
      email: 'Hanako@Example.jp',
    });
    expect(csm.status).toBe(201);
    expect(csm.json()).toMatchObject({ externalId: 'csm-1', email: 'hanako@example.jp', locale: 'ja' });

    const account = await t.api('POST', '/api/accounts', {
      externalId: 'acme',
      name: 'Acme 株式会社',
      arrAmount: 1200000,
      arrCurrency: 'JPY',
      ownerCsmExternalId: 'csm-1',
      contractStartDate: '2026-04-01',
      renewalDate: '2027-03-31',
      timeZone: 'Asia/Tokyo',
      attributes: { industry: 'manufacturing', seats: 40 },
    });
    expect(account.status).toBe(201);
    expect(account.json()).toMatchObject({
      externalId: 'acme',
      arrAmount: 1200000,
      ownerCsmExternalId: 'csm-1',
      status: 'active',
    });

    const contact = await t.api('POST', '/api/contacts', {
      externalId: 'c-1',
      accountExternalId: 'acme',
      email: ' Taro@Acme.co.jp ',
      roles: ['admin', 'champion'],
      consent: {
        basis: 'opt_in',
        at: '2026-04-01T10:00:00+09:00',
        method: 'web_form',
        source: 'https://acme.example/signup',
      },
    });
    expect(contact.status).toBe(201);
    expect(contact.json()).toMatchObject({
      email: 'taro@acme.co.jp',
      roles: ['admin', 'champion'],
      consent: { basis: 'opt_in' },
      emailTracking: null,
    });
    const badTracking = await t.api('PATCH', '/api/contacts/c-1', { emailTracking: 'sometimes' });
    expect(badTracking.status).toBe(400);
    expect(JSON.stringify(badTracking.json())).toContain('"path":"emailTracking"');

    const patched = await t.api('PATCH', '/api/contacts/c-1', {
      status: 'left',
      name: '山田 太郎',
      emailTracking: 'clicks',
    });
    expect(patched.status).toBe(200);
    expect(patched.json()).toMatchObject({
      status: 'left',
      emailTracking: 'clicks',
      name: '山田 太郎',
      email: 'taro@acme.co.jp',
      accountExternalId: 'acme',
    });

    const read = await t.api('GET', '/api/accounts/acme');
    expect(read.json()).toMatchObject({ name: 'Acme 株式会社', attributes: { industry: 'manufacturing', seats: 40 } });
  });

  it('answers 400 with field paths, rejecting unknown fields', async () => {
    const response = await t.api('POST', '/api/contacts', {
      externalId: 'c-2',
      accountExternalId: 'acme',
      email: 'not-an-email',
      roles: ['admin', 'ceo'],
      consent: { basis: 'opt_in' },
      favouriteColour: 'blue',
    });
    expect(response.status).toBe(400);
    const paths = (response.json() as { issues: { path: string }[] }).issues.map((i) => i.path).sort();
    expect(paths).toEqual(
      expect.arrayContaining(['email', 'roles.1', 'consent.at', 'consent.method', 'consent.source']),
    );
    expect(JSON.stringify(response.json())).toContain('favouriteColour');
  });

  it('reports unknown references and conflicts without writing', async () => {
    const unknownAccount = await t.api('POST', '/api/contacts', {
      externalId: 'c-3',
      accountExternalId: 'nope',
      email: 'x@y.jp',
    });
    expect(unknownAccount.status).toBe(400);
    expect(unknownAccount.json()).toMatchObject({ issues: [{ path: 'accountExternalId' }] });
    const duplicate = await t.api('POST', '/api/contacts', {
      externalId: 'c-4',
      accountExternalId: 'acme',
      email: 'TARO@acme.co.jp',
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json()).toMatchObject({ issues: [{ path: 'email' }] });
    expect((await t.api('GET', '/api/contacts/c-4')).status).toBe(404);
    const again = await t.api('POST', '/api/accounts', { externalId: 'acme', name: 'x' });
    expect(again.status).toBe(409);
  });

  it('lists with a cursor', async () => {
    for (const id of ['b', 'c', 'd']) await t.api('POST', '/api/accounts', { externalId: id, name: id });
    const first = (await t.api('GET', '/api/accounts?limit=2')).json() as {
      items: { externalId: string }[];
      nextCursor: string;
    };
    expect(first.items.map((a) => a.externalId)).toEqual(['acme', 'b']);
    const second = (await t.api('GET', `/api/accounts?limit=2&cursor=${first.nextCursor}`)).json() as {
      items: { externalId: string }[];
    };
    expect(second.items.map((a) => a.externalId)).toEqual(['c', 'd']);
    expect((await t.api('GET', '/api/accounts?cursor=garbage')).status).toBe(400);
  });

  it('serves liveness and readiness', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health/live' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).json()).toEqual({
      status: 'ok',
      database: 'ok',
    });
  });
});

describe('text PostgreSQL cannot store', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 400, not 500, for a NUL character, and the server stays up', async () => {
    const response = await t.api('POST', '/api/accounts', { externalId: 'nul', name: 'bad\u0000name' });
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: 'invalid' });
    expect((await t.api('GET', '/api/accounts/nul')).status).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });

  it('names the field of unstorable text, year 0 and a consent time PostgreSQL would read otherwise', async () => {
    const issues = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
      const response = await t.api(method, url, body);
      expect(response.status).toBe(400);
      return (response.json() as { issues: { path: string }[] }).issues.map((i) => i.path);
    };
    expect(await issues('POST', '/api/accounts', { externalId: 'a-0', name: 'bad\u0000name' })).toEqual(['name']);
    expect(
      await issues('POST', '/api/accounts', { externalId: 'a-1', name: 'A', attributes: { note: 'half \ud83d' } }),
    ).toEqual(['attributes.note']);
    expect(
      await issues('POST', '/api/accounts', { externalId: 'a-2', name: 'A', contractStartDate: '0000-01-01' }),
    ).toEqual(['contractStartDate']);
    expect((await t.api('POST', '/api/accounts', { externalId: 'acc', name: 'Acme' })).status).toBe(201);
    const contact = (at: string) => ({
      externalId: 'c-consent',
      accountExternalId: 'acc',
      email: 'consent@acme.example',
      consent: { basis: 'opt_in', at, method: 'web_form', source: 'https://www.acme.example/signup' },
    });
    expect(await issues('POST', '/api/contacts', contact('0000-06-01T00:00:00Z'))).toEqual(['consent.at']);
    // An offset PostgreSQL refuses (+16:00) is stored as the same instant, not a 500.
    const created = await t.api('POST', '/api/contacts', contact('2026-12-03T10:00:00+16:00'));
    expect(created.status).toBe(201);
    expect(created.json()).toMatchObject({ consent: { at: '2026-12-02T18:00:00.000Z' } });
  });

  it('lists at most 100 issues of a body with thousands, and says how many there were', async () => {
    const attributes = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`Bad-${i}`, 1]));
    const response = await t.api('POST', '/api/accounts', { externalId: 'many', name: 'M', attributes });
    expect(response.status).toBe(400);
    const body = response.json() as { message: string; issues: unknown[] };
    expect(body.issues).toHaveLength(100);
    expect(body.message).toMatch(/showing 100 of \d+ issues/);
  });
});
