import type { Locale } from '../messaging.contracts';

/** Topics every preferences page lists, with their labels; a contact's own message topics are added. */
export const KNOWN_TOPICS = ['product_tips', 'events', 'renewal'] as const;

const TOPIC_LABELS: Record<string, Record<Locale, string>> = {
  product_tips: { ja: '製品の活用ヒント', en: 'Product tips' },
  events: { ja: 'イベント・セミナーのご案内', en: 'Events and webinars' },
  renewal: { ja: '契約更新のご案内', en: 'Renewal information' },
};

const TEXT = {
  ja: {
    confirmTitle: '配信停止の確認',
    confirmBody: (email: string) => `${email} 宛てのお知らせメール(広告・宣伝)の配信を停止しますか?`,
    confirmButton: '配信を停止する',
    preferencesLink: 'トピックごとに設定する',
    doneTitle: '配信を停止しました',
    doneBody: (email: string) =>
      `${email} 宛てのお知らせメールの配信を停止しました。契約やサービスに関する重要なご連絡は引き続きお送りします。`,
    preferencesTitle: 'メール配信設定',
    preferencesBody: (email: string) => `${email} 宛てに受け取るお知らせのトピックを選んでください。`,
    save: '保存する',
    saved: '設定を保存しました。',
    suppressed: 'このアドレスへのお知らせメールはすべて停止されています。',
  },
  en: {
    confirmTitle: 'Confirm unsubscribe',
    confirmBody: (email: string) => `Stop marketing email to ${email}?`,
    confirmButton: 'Unsubscribe',
    preferencesLink: 'Choose topics instead',
    doneTitle: 'You have been unsubscribed',
    doneBody: (email: string) =>
      `We will no longer send marketing email to ${email}. Important messages about your contract or service will still be sent.`,
    preferencesTitle: 'Email preferences',
    preferencesBody: (email: string) => `Choose the topics you want to receive at ${email}.`,
    save: 'Save',
    saved: 'Your preferences have been saved.',
    suppressed: 'All marketing email to this address is stopped.',
  },
} as const;

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `taro@example.jp` -> `t***@example.jp`: enough for the reader to recognise, useless to a crawler. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}

/** Label of a topic in a locale; unknown topics show their code. */
export function topicLabel(topic: string, locale: Locale): string {
  return TOPIC_LABELS[topic]?.[locale] ?? topic;
}

function page(locale: Locale, title: string, body: string): string {
  return `<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#333}button{font-size:1rem;padding:.5rem 1rem}label{display:block;margin:.5rem 0}.notice{background:#eef7ee;padding:.5rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** What GET on the unsubscribe URL shows: a button that POSTs to the same URL, no state change. */
export function renderConfirmPage(input: { locale: Locale; maskedEmail: string; token: string }): string {
  const t = TEXT[input.locale];
  const token = escapeHtml(input.token);
  return page(
    input.locale,
    t.confirmTitle,
    `<p>${escapeHtml(t.confirmBody(input.maskedEmail))}</p>
<form method="post" action="./${token}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">${escapeHtml(t.confirmButton)}</button></form>
<p><a href="./${token}/preferences">${escapeHtml(t.preferencesLink)}</a></p>`,
  );
}

/** Answer of the one-click POST. */
export function renderUnsubscribedPage(input: { locale: Locale; maskedEmail: string }): string {
  const t = TEXT[input.locale];
  return page(input.locale, t.doneTitle, `<p>${escapeHtml(t.doneBody(input.maskedEmail))}</p>`);
}

export interface TopicChoice {
  topic: string;
  subscribed: boolean;
}

/** The per-topic preferences form. */
export function renderPreferencesPage(input: {
  locale: Locale;
  maskedEmail: string;
  topics: readonly TopicChoice[];
  suppressed: boolean;
  saved: boolean;
}): string {
  const t = TEXT[input.locale];
  const boxes = input.topics
    .map(
      (c) =>
        `<label><input type="checkbox" name="topics" value="${escapeHtml(c.topic)}"${c.subscribed ? ' checked' : ''}> ${escapeHtml(topicLabel(c.topic, input.locale))}</label>`,
    )
    .join('\n');
  return page(
    input.locale,
    t.preferencesTitle,
    `${input.saved ? `<p class="notice" role="status">${escapeHtml(t.saved)}</p>` : ''}
${input.suppressed ? `<p class="notice">${escapeHtml(t.suppressed)}</p>` : ''}
<p>${escapeHtml(t.preferencesBody(input.maskedEmail))}</p>
<form method="post" action="./preferences"><input type="hidden" name="save" value="1">
${boxes}
<button type="submit">${escapeHtml(t.save)}</button></form>`,
  );
}
