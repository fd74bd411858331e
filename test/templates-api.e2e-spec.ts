import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../src/common/clock';
import { CoreModule } from '../src/common/core.module';
import { DomainErrorFilter } from '../src/common/domain-error.filter';
import type { AppConfig } from '../src/config/app-config';
import { MessagingCoreModule } from '../src/messaging/messaging-core.module';
import { TEMPLATES_OPTIONS } from '../src/messaging/templates/template-renderer';
import { TemplatesApiModule } from '../src/messaging/templates/templates-api.module';
import type {
  TemplateDefinitionView,
  TemplatePreviewView,
  TemplateSummaryView,
} from '../src/messaging/templates/templates.controller';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';
import { seedContact } from './support/seed';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { TEST_API_KEY, testConfig } from './support/test-app';

const PREVIEW_MESSAGE_ID = '00000000-0000-4000-8000-000000000000';
const STARTER_DIR = join(process.cwd(), 'templates');

/** The starter templates on disk: `group/name` of every directory holding a template.yaml. */
function starterTemplateIds(): string[] {
  return readdirSync(STARTER_DIR)
    .filter((group) => !group.startsWith('_') && !group.startsWith('.'))
    .flatMap((group) => readdirSync(join(STARTER_DIR, group)).map((name) => `${group}/${name}`))
    .sort();
}

interface ErrorBody {
  error: string;
  issues?: { path: string; message: string }[];
}

describe('template admin API (list, definition, preview)', () => {
  let db: TestDatabase;
  let config: AppConfig;
  let tmpDir: string;
  let app: NestFastifyApplication;
  let clock: ManualClock;
  let n = 0;

  const request = (
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    headers: Record<string, string> = { 'x-api-key': TEST_API_KEY },
  ) =>
    app.inject({
      method,
      url,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
  const preview = async (template: string, body: Record<string, unknown> = {}): Promise<TemplatePreviewView> => {
    const response = await request('POST', `/api/templates/${template}/preview`, body);
    expect(response.statusCode).toBe(200);
    return response.json<TemplatePreviewView>();
  };
  /** A fresh contact (and account) per call, so tests never share rows. */
  const contact = async (fields: {
    name?: string | null;
    locale?: 'ja' | 'en' | null;
    accountLocale?: 'ja' | 'en' | null;
    accountName?: string;
  }) => {
    n += 1;
    const ids = { account: `acct-${n}`, contact: `c-${n}`, email: `person${n}@customer.example` };
    const seeded = await seedContact(db.dataSource, ids);
    await db.dataSource.query(`UPDATE contacts SET name = $2, locale = $3 WHERE id = $1`, [
      seeded.contactId,
      fields.name ?? null,
      fields.locale ?? null,
    ]);
    await db.dataSource.query(`UPDATE accounts SET name = $2, locale = $3 WHERE id = $1`, [
      seeded.accountId,
      fields.accountName ?? ids.account,
      fields.accountLocale ?? null,
    ]);
    return { ...seeded, externalId: ids.contact, email: ids.email };
  };
  const count = async (table: string): Promise<number> =>
    Number((await db.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);

  beforeAll(async () => {
    ({ config, tmpDir } = testConfig({
      SENDER_NAME: 'テンド株式会社',
      SENDER_POSTAL_ADDRESS: '東京都千代田区丸の内1-1-1',
      SENDER_CONTACT: 'cs@tend.example',
      DEFAULT_LOCALE: 'ja',
    }));
    // The starter templates plus one that exists in Japanese only (locale fallback).
    const templatesDir = join(tmpDir, 'templates');
    cpSync(STARTER_DIR, templatesDir, { recursive: true });
    mkdirSync(join(templatesDir, 'notice', 'ja-only'), { recursive: true });
    writeFileSync(
      join(templatesDir, 'notice', 'ja-only', 'template.yaml'),
      "kind: operational\nsubject:\n  ja: '{{account.name}}様へのお知らせ'\n",
    );
    writeFileSync(
      join(templatesDir, 'notice', 'ja-only', 'ja.mjml'),
      '<mj-section><mj-column><mj-text>{{#if contact.name}}{{ contact.name }} 様{{else}}ご担当者様{{/if}}</mj-text></mj-column></mj-section>\n',
    );

    db = await createTestDatabase();
    clock = new ManualClock(new Date('2026-11-01T00:00:00Z'));
    @Global()
    @Module({
      providers: [{ provide: TEMPLATES_OPTIONS, useValue: { dir: templatesDir } }],
      exports: [TEMPLATES_OPTIONS],
    })
    class TemplatesDirModule {}
    @Module({
      imports: [
        CoreModule.forRoot({ config, database: db, clock }),
        TemplatesDirModule,
        MessagingCoreModule,
        TemplatesApiModule,
      ],
    })
    class TestTemplatesApiModule {}
    app = await NestFactory.create<NestFastifyApplication>(TestTemplatesApiModule, new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalFilters(new DomainErrorFilter());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
    rmSync(tmpDir, { recursive: true, force: true });
  });

  describe('authentication', () => {
    it('answers 401 without a valid API key', async () => {
      for (const headers of [{}, { 'x-api-key': 'wrong' }] as Record<string, string>[]) {
        const list = await request('GET', '/api/templates', undefined, headers);
        expect(list.statusCode).toBe(401);
        expect(list.json<ErrorBody>().error).toBe('unauthorized');
        const definition = await request('GET', '/api/templates/onboarding/first-steps', undefined, headers);
        expect(definition.statusCode).toBe(401);
        const rendered = await request('POST', '/api/templates/onboarding/first-steps/preview', {}, headers);
        expect(rendered.statusCode).toBe(401);
        expect(rendered.body).not.toContain('<html');
      }
    });
  });

  describe('GET /api/templates', () => {
    it('lists every starter template with both locales and the raw subjects', async () => {
      const response = await request('GET', '/api/templates');
      expect(response.statusCode).toBe(200);
      const { items } = response.json<{ items: TemplateSummaryView[] }>();
      const ids = items.map((t) => t.id);
      expect(ids).toEqual([...ids].sort());
      const starters = starterTemplateIds();
      expect(starters.length).toBeGreaterThanOrEqual(5);
      expect(ids).toEqual(expect.arrayContaining(starters));
      for (const id of starters) {
        const t = items.find((i) => i.id === id)!;
        expect(t.locales).toEqual(['ja', 'en']);
        expect(t.subject.ja).toEqual(expect.any(String));
        expect(t.subject.en).toEqual(expect.any(String));
      }
      expect(items.find((t) => t.id === 'onboarding/first-steps')).toEqual({
        id: 'onboarding/first-steps',
        kind: 'advertising',
        topic: 'product_tips',
        locales: ['ja', 'en'],
        subject: {
          ja: '活用の第一歩：まず試していただきたい3つの機能',
          en: '3 things to try first in {{sender.name}}',
        },
      });
      expect(items.find((t) => t.id === 'system/test-message')).toMatchObject({ kind: 'operational', topic: null });
      expect(items.find((t) => t.id === 'notice/ja-only')).toMatchObject({ locales: ['ja'] });
    });
  });

  describe('GET /api/templates/:group/:name', () => {
    it("answers one template's definition", async () => {
      const response = await request('GET', '/api/templates/onboarding/first-steps');
      expect(response.statusCode).toBe(200);
      expect(response.json<TemplateDefinitionView>()).toMatchObject({
        id: 'onboarding/first-steps',
        kind: 'advertising',
        topic: 'product_tips',
        layout: 'default',
        locales: ['ja', 'en'],
        subject: { en: '3 things to try first in {{sender.name}}' },
        preheader: { ja: '10分でできる設定で、チームの毎日がぐっと楽になります。' },
        files: {
          manifest: join('onboarding', 'first-steps', 'template.yaml'),
          bodies: {
            ja: join('onboarding', 'first-steps', 'ja.mjml'),
            en: join('onboarding', 'first-steps', 'en.mjml'),
          },
        },
      });
      expect(response.body).not.toContain(tmpDir);
    });

    it('answers 404 for an unknown template and 400 for a malformed id', async () => {
      for (const url of ['/api/templates/onboarding/no-such-template', '/api/templates/nothing/here']) {
        const response = await request('GET', url);
        expect(response.statusCode).toBe(404);
        expect(response.json<ErrorBody>().error).toBe('not_found');
      }
      const unknownPreview = await request('POST', '/api/templates/nothing/here/preview', {});
      expect(unknownPreview.statusCode).toBe(404);
      const malformed = await request('GET', '/api/templates/Onboarding/first-steps');
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json<ErrorBody>().error).toBe('invalid');
    });
  });

  describe('POST /api/templates/:group/:name/preview', () => {
    it('renders the sample recipient in Japanese with the legal sender block', async () => {
      const m = await preview('onboarding/first-steps', { locale: 'ja' });
      expect(m).toMatchObject({
        template: 'onboarding/first-steps',
        locale: 'ja',
        kind: 'advertising',
        topic: 'product_tips',
        subject: '活用の第一歩：まず試していただきたい3つの機能',
        preheader: '10分でできる設定で、チームの毎日がぐっと楽になります。',
        links: [],
      });
      expect(m.html).toContain('山田 花子 様');
      expect(m.html).toContain('送信者：テンド株式会社');
      expect(m.html).toContain('所在地：東京都千代田区丸の内1-1-1');
      expect(m.html).toContain('お問い合わせ先：cs@tend.example');
      expect(m.html).toContain(`${config.http.publicBaseUrl}/u/`);
      expect(m.text).toContain('送信者：テンド株式会社');
    });

    it('renders the sample recipient in English, and the default locale without a body', async () => {
      const en = await preview('onboarding/first-steps', { locale: 'en' });
      expect(en.locale).toBe('en');
      expect(en.subject).toBe('3 things to try first in テンド株式会社');
      expect(en.html).toContain('Hi Alex Morgan,');
      expect(en.html).toContain('Sender: テンド株式会社');
      expect(en.html).toContain('Address: 東京都千代田区丸の内1-1-1');

      const response = await request('POST', '/api/templates/onboarding/first-steps/preview');
      expect(response.statusCode).toBe(200);
      expect(response.json<TemplatePreviewView>().locale).toBe('ja');
    });

    it('merges caller data over the sample data', async () => {
      const m = await preview('milestone/celebration', { locale: 'en', data: { milestone: 2500 } });
      expect(m.subject).toContain('2,500');
    });

    it("renders for a real contact with their name and the contact's, account's or default locale", async () => {
      const byAccount = await contact({ name: '佐藤 太郎', accountLocale: 'en', accountName: 'Acme Corp' });
      const en = await preview('onboarding/welcome', { contactExternalId: byAccount.externalId });
      expect(en.locale).toBe('en');
      expect(en.subject).toBe('Welcome to テンド株式会社, Acme Corp');
      expect(JSON.stringify(en)).not.toContain(byAccount.email);

      const own = await contact({ name: 'Jane Doe', locale: 'en', accountLocale: 'ja' });
      const firstSteps = await preview('onboarding/first-steps', { contactExternalId: own.externalId });
      expect(firstSteps.locale).toBe('en');
      expect(firstSteps.html).toContain('Hi Jane Doe,');
      expect(firstSteps.html).not.toContain('Alex Morgan');

      const none = await contact({ name: '鈴木 一郎' });
      const ja = await preview('onboarding/first-steps', { contactExternalId: none.externalId });
      expect(ja.locale).toBe('ja');
      expect(ja.html).toContain('鈴木 一郎 様');
      expect(ja.html).not.toContain('山田 花子');

      const requested = await preview('onboarding/first-steps', { contactExternalId: own.externalId, locale: 'ja' });
      expect(requested.locale).toBe('ja');
      expect(requested.html).toContain('Jane Doe 様');

      // The template has no English body: the default locale (ja) is rendered instead.
      const fallback = await preview('notice/ja-only', { contactExternalId: own.externalId });
      expect(fallback.locale).toBe('ja');
      expect(fallback.html).toContain('Jane Doe 様');

      const nameless = await contact({ name: null });
      const anonymous = await preview('onboarding/first-steps', { contactExternalId: nameless.externalId });
      expect(anonymous.html).toContain('ご担当者様');
      expect(anonymous.html).not.toContain('山田 花子');
    });

    it('answers 404 for an unknown contact', async () => {
      const response = await request('POST', '/api/templates/onboarding/first-steps/preview', {
        contactExternalId: 'nobody',
      });
      expect(response.statusCode).toBe(404);
      expect(response.json<ErrorBody>().error).toBe('not_found');
    });

    it('adds no open pixel and rewrites no link unless tracking is true', async () => {
      const c = await contact({ name: '佐藤 太郎' });
      for (const body of [{}, { tracking: false }, { contactExternalId: c.externalId }]) {
        const m = await preview('onboarding/first-steps', body);
        expect(m.html).not.toContain('/t/o/');
        expect(m.html).not.toContain('/t/c/');
        expect(m.links).toEqual([]);
        expect(m.html).toContain('https://help.example.com/ja/first-steps');
      }
    });

    it('rewrites links and adds the pixel with tracking: true, signed for the preview id only', async () => {
      const c = await contact({ name: '佐藤 太郎' });
      const signer = app.get(TrackingTokenSigner);
      for (const body of [{ tracking: true }, { tracking: true, contactExternalId: c.externalId }]) {
        const m = await preview('onboarding/first-steps', body);
        expect(m.links).toEqual(
          expect.arrayContaining([
            'https://app.example.com/tour?utm_source=tend&utm_medium=email&utm_campaign=first-steps',
            'https://help.example.com/ja/first-steps',
          ]),
        );
        expect(m.html).not.toContain('href="https://help.example.com/ja/first-steps"');
        const clickTokens = [...m.html.matchAll(/\/t\/c\/([^"]+)"/g)].map((match) => match[1]!);
        const pixel = /\/t\/o\/([^"]+)\.gif"/.exec(m.html)?.[1];
        expect(clickTokens.length).toBe(m.links.length);
        expect(pixel).toBeDefined();
        for (const token of [...clickTokens, pixel!]) {
          expect(signer.verify(token, clock.now())).toMatchObject({ m: PREVIEW_MESSAGE_ID });
        }
      }
    });

    it('answers the HTML page itself with ?format=html or Accept: text/html', async () => {
      const json = await preview('onboarding/first-steps', { locale: 'en' });
      const byQuery = await request('POST', '/api/templates/onboarding/first-steps/preview?format=html', {
        locale: 'en',
      });
      expect(byQuery.statusCode).toBe(200);
      expect(byQuery.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(byQuery.headers['cache-control']).toBe('no-store');
      expect(byQuery.headers['content-security-policy']).toContain('sandbox');
      expect(byQuery.body).toBe(json.html);

      const byAccept = await request(
        'POST',
        '/api/templates/onboarding/first-steps/preview',
        { locale: 'en' },
        { 'x-api-key': TEST_API_KEY, accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
      );
      expect(byAccept.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(byAccept.body).toBe(json.html);

      const forcedJson = await request(
        'POST',
        '/api/templates/onboarding/first-steps/preview?format=json',
        { locale: 'en' },
        { 'x-api-key': TEST_API_KEY, accept: 'text/html' },
      );
      expect(forcedJson.headers['content-type']).toContain('application/json');
      expect(forcedJson.json<TemplatePreviewView>().html).toBe(json.html);
    });

    it('rejects unknown and invalid fields with their paths', async () => {
      const unknown = await request('POST', '/api/templates/onboarding/first-steps/preview', {
        locale: 'fr',
        colour: 'green',
        tracking: 'yes',
      });
      expect(unknown.statusCode).toBe(400);
      const body = unknown.json<ErrorBody>();
      expect(body.error).toBe('invalid');
      expect(body.issues?.map((i) => i.path)).toEqual(expect.arrayContaining(['colour', 'locale', 'tracking']));

      const badQuery = await request('POST', '/api/templates/onboarding/first-steps/preview?format=pdf', {});
      expect(badQuery.statusCode).toBe(400);
      expect(badQuery.json<ErrorBody>().issues?.map((i) => i.path)).toContain('format');
    });

    it('writes nothing to the database', async () => {
      const c = await contact({ name: '佐藤 太郎' });
      const tables = ['messages', 'message_links', 'events'];
      const before = await Promise.all(tables.map(count));
      await preview('onboarding/first-steps', { contactExternalId: c.externalId, tracking: true });
      await preview('renewal/renewal-notice', { contactExternalId: c.externalId, locale: 'en' });
      await preview('system/test-message', {});
      expect(await Promise.all(tables.map(count))).toEqual(before);
      expect(await count('messages')).toBe(0);
    });
  });
});
