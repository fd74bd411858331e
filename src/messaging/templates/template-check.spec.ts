import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem } from './template-catalog';
import { checkHandlebars, checkTemplates } from './template-check';

const REAL = join(process.cwd(), 'templates');

function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tend-check-'));
  cpSync(join(REAL, '_layouts'), join(dir, '_layouts'), { recursive: true });
  cpSync(join(REAL, '_partials'), join(dir, '_partials'), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const section = (inner: string) => `<mj-section>\n  <mj-column>\n    ${inner}\n  </mj-column>\n</mj-section>\n`;

describe('checkTemplates', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('passes on the real templates folder', async () => {
    expect((await checkTemplates(REAL, { defaultLocale: 'ja' })).map(formatProblem)).toEqual([]);
  });

  it('reports every problem of broken templates at once, with file and line', async () => {
    const dir = fixture({
      'bad/unknown-var/template.yaml': 'kind: operational\nsubject:\n  ja: "件名 {{contact.nmae}}"\n',
      'bad/unknown-var/ja.mjml': section(
        '<mj-text>\n      {{customer.name}} {{data.anything.goes}} {{#each contact.roles}}{{this}} {{name}}{{/each}}\n      {{shout contact.name}}\n    </mj-text>',
      ),
      'bad/mjml-error/template.yaml': 'kind: operational\nsubject:\n  ja: 件名\n',
      'bad/mjml-error/ja.mjml': section('<mj-text>ok</mj-text>\n    <mj-nonsense>bad</mj-nonsense>'),
      'bad/no-footer/template.yaml': 'kind: advertising\ntopic: product_tips\nlayout: bare\nsubject:\n  ja: 件名\n',
      'bad/no-footer/ja.mjml': section('<mj-text>フッターなし</mj-text>'),
      '_layouts/bare.mjml': '<mjml>\n  <mj-body>\n    <!-- body -->\n  </mj-body>\n</mjml>\n',
      'bad/no-topic/template.yaml': 'kind: advertising\nsubject:\n  ja: 件名\n',
      'bad/no-topic/ja.mjml': section('<mj-text>x</mj-text>'),
      'bad/dropped/template.yaml': 'kind: operational\nsubject:\n  ja: 件名\n',
      'bad/dropped/ja.mjml': section('{{#if data.x}}\n    <mj-text>x</mj-text>\n    {{/if}}'),
      'bad/en-only/template.yaml': 'kind: operational\nsubject:\n  en: Subject\n',
      'bad/en-only/en.mjml': section('<mj-text>x</mj-text>'),
    });
    dirs.push(dir);
    const problems = (await checkTemplates(dir, { defaultLocale: 'ja' })).map(formatProblem);
    const expectOne = (pattern: RegExp) => expect(problems.filter((p) => pattern.test(p))).toHaveLength(1);
    expectOne(/^bad\/unknown-var\/template\.yaml:3: unknown variable "contact\.nmae"/);
    expectOne(/^bad\/unknown-var\/ja\.mjml:4: unknown variable "customer\.name"/);
    expectOne(/^bad\/unknown-var\/ja\.mjml:5: unknown helper "shout"/);
    expectOne(/^bad\/mjml-error\/ja\.mjml:4: MJML: .*mj-nonsense/);
    expectOne(
      /^bad\/no-footer\/ja\.mjml:1: advertising mail without the legal footer .*sender name.*postal address.*contact point.*unsubscribe link/,
    );
    expectOne(/^bad\/no-topic\/template\.yaml:\d+: topic: advertising templates need a topic/);
    expectOne(/^bad\/dropped\/ja\.mjml:3: \{\{#if data\.x\}\} is dropped by MJML/);
    expectOne(/^bad\/en-only\/template\.yaml:1: no ja version/);
    expect(problems.some((p) => p.includes('data.anything') || p.includes('"name"'))).toBe(false);
    expect(problems).toHaveLength(9); // {{/if}} is reported too
  });
});

describe('checkHandlebars', () => {
  const check = (text: string) => checkHandlebars({ file: 'f.mjml', text }, 0).map((p) => p.message);

  it('accepts the known roots, fields, helpers, block params and @root', () => {
    expect(
      check(
        '{{contact.attributes.tier}} {{account.renewalDate}} {{sender.postalAddress}} {{unsubscribeUrl}} {{locale}}' +
          ' {{formatDate (lookup data "d") "short"}} {{#each data.items as |item|}}{{item.x}} {{@index}} {{@root.contact.name}}{{/each}}' +
          ' {{#if (eq locale "ja")}}ja{{else}}en{{/if}}',
      ),
    ).toEqual([]);
  });

  it('rejects unknown roots, fields, helpers, partials and syntax errors', () => {
    expect(check('{{contact.email}}')).toEqual([expect.stringContaining('unknown variable "contact.email"')]);
    expect(check('{{locale.x}}')).toEqual([expect.stringContaining('locale has no fields')]);
    expect(check('{{#each data.xs}}{{@root.nope}}{{/each}}')).toEqual([expect.stringContaining('"nope"')]);
    expect(check('{{> footer}}')).toEqual([expect.stringContaining('partials')]);
    expect(check('{{#if x}}')).toEqual([expect.stringContaining('Handlebars:')]);
  });
});
