import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { SystemClock } from '../src/common/clock';
import { TemplateRenderer } from '../src/messaging/templates/template-renderer';
import { TrackingTokenSigner } from '../src/tracking/tracking-token.signer';

/**
 * `npm run templates:preview -- <group/name> [--locale ja|en] [--out file.html] [--dir templates] [--tracking]`:
 * renders the template for a sample recipient, writes the HTML (and the text part
 * next to it as .txt) and prints the path.
 */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      locale: { type: 'string', default: process.env.DEFAULT_LOCALE ?? 'ja' },
      out: { type: 'string' },
      dir: { type: 'string', default: 'templates' },
      tracking: { type: 'boolean', default: false },
    },
  });
  const template = positionals[0];
  const locale = values.locale;
  if (template === undefined || (locale !== 'ja' && locale !== 'en')) {
    console.error('usage: npm run templates:preview -- <group/name> [--locale ja|en] [--out file.html] [--tracking]');
    return 2;
  }
  const renderer = new TemplateRenderer(
    {
      http: { publicBaseUrl: (process.env.PUBLIC_BASE_URL ?? 'http://localhost:3000').replace(/\/+$/, '') },
      mail: {
        sender: {
          name: process.env.SENDER_NAME ?? 'Tend',
          postalAddress: process.env.SENDER_POSTAL_ADDRESS ?? '(set SENDER_POSTAL_ADDRESS)',
          contact: process.env.SENDER_CONTACT ?? '(set SENDER_CONTACT)',
        },
      },
      defaults: {
        locale: process.env.DEFAULT_LOCALE === 'en' ? 'en' : 'ja',
        timeZone: process.env.DEFAULT_TIMEZONE ?? 'Asia/Tokyo',
      },
    },
    new TrackingTokenSigner({ keys: [{ kid: 'preview', secret: 'preview-only', retiredAt: null }], gracePeriodMs: 0 }),
    new SystemClock(),
    { dir: resolve(values.dir) },
  );
  renderer.load();
  if (!renderer.has(template)) {
    console.error(
      `unknown template ${template}; known: ${renderer
        .list()
        .map((t) => t.id)
        .join(', ')}`,
    );
    return 2;
  }
  const message = await renderer.renderPreview(template, locale, {
    tracking: { opens: values.tracking, clicks: values.tracking },
  });
  const out = resolve(
    values.out ?? join(tmpdir(), `tend-preview-${template.replace('/', '-')}.${message.locale}.html`),
  );
  writeFileSync(out, message.html);
  writeFileSync(out.replace(/\.html?$/, '') + '.txt', `Subject: ${message.subject}\n\n${message.text}\n`);
  console.error(`subject: ${message.subject}${message.locale !== locale ? ` (fell back to ${message.locale})` : ''}`);
  console.log(out);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
