import type { AppConfig } from '../config/app-config';

/**
 * Text for the site's notice under Japan's external-transmission rule
 * (電気通信事業法 第27条の12, 外部送信規律): what the snippet sends, to whom, and why.
 */
export interface Disclosure {
  title: string;
  sections: { heading: string; items: string[] }[];
}

/** The settings the text depends on: pass the running configuration, so the notice says what Tend really does. */
export interface DisclosureConfig {
  http: Pick<AppConfig['http'], 'publicBaseUrl'>;
  tracking: Pick<AppConfig['tracking'], 'honorDoNotTrack' | 'ipMode'>;
}

export function buildDisclosure(lang: 'ja' | 'en', config: DisclosureConfig): Disclosure {
  const recipient = config.http.publicBaseUrl;
  const { honorDoNotTrack, ipMode } = config.tracking;
  if (lang === 'ja') {
    return {
      title: '利用者情報の外部送信について',
      sections: [
        {
          heading: '送信される情報',
          items: [
            'ブラウザごとに発行するランダムな識別子（Cookie「tend_vid」）',
            '閲覧したページのURL、ページタイトル、参照元URL',
            'ウェビナー申込・資料ダウンロードなど、当サイト上での操作の種類と、当サイトがその操作に添えて送る情報（ウェビナー名、資料名など）',
            'フォームに入力されたメールアドレス（お客様が入力した場合のみ）',
            '当社からのメールのリンクを開いた場合、そのメールの受信者を示す署名付き識別子',
            ipMode === 'hash'
              ? 'IPアドレス（ハッシュ化したもののみ保存）とブラウザの種類'
              : 'IPアドレス（末尾を切り捨てたもののみ保存）とブラウザの種類',
          ],
        },
        { heading: '送信先', items: [`${recipient}（当社がカスタマーサクセスのために運用する Tend サーバー）`] },
        {
          heading: '利用目的',
          items: [
            'ご契約中のお客様への活用支援（オンボーディング、利用状況に応じたご案内）',
            'メール配信の効果測定と改善',
            '担当カスタマーサクセスマネージャーからのご連絡の判断材料',
          ],
        },
        {
          heading: '停止の方法',
          items: [
            'window.tend.optOut() を呼び出すと送信を停止します（Cookie「tend_optout」を保存します）。',
            ...(honorDoNotTrack
              ? ['ブラウザの Do Not Track または Global Privacy Control を有効にしている間も送信しません。']
              : []),
          ],
        },
      ],
    };
  }
  return {
    title: 'Information sent from this site',
    sections: [
      {
        heading: 'What is sent',
        items: [
          'A random identifier for your browser (cookie "tend_vid")',
          'The address, title and referrer of the pages you view',
          'The kind of action you take on this site, such as a webinar sign-up or a download, with the details this site sends along with it (such as the webinar or the document)',
          'An email address you type into a form on this site (only when you do)',
          'When you open a link in an email from us, a signed identifier of that email’s recipient',
          ipMode === 'hash'
            ? 'Your IP address (stored only as a keyed hash) and browser type'
            : 'Your IP address (stored only truncated) and browser type',
        ],
      },
      { heading: 'Sent to', items: [`${recipient} (the Tend server we run for customer success)`] },
      {
        heading: 'Why',
        items: [
          'To help our customers succeed with our product (onboarding, guidance based on usage)',
          'To measure and improve our emails',
          'To let your customer success manager know when to reach out',
        ],
      },
      {
        heading: 'How to stop it',
        items: [
          'Call window.tend.optOut() to stop it (a "tend_optout" cookie is stored).',
          ...(honorDoNotTrack
            ? ['Nothing is sent either while Do Not Track or Global Privacy Control is turned on in your browser.']
            : []),
        ],
      },
    ],
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderDisclosureHtml(disclosure: Disclosure, lang: 'ja' | 'en'): string {
  const body = disclosure.sections
    .map((s) => `<h2>${escapeHtml(s.heading)}</h2><ul>${s.items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`)
    .join('');
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>${escapeHtml(disclosure.title)}</title></head><body><h1>${escapeHtml(disclosure.title)}</h1>${body}</body></html>`;
}
