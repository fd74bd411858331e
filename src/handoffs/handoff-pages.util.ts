import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { SigningKeyRing } from '../common/signing-key-ring';
import type { TrackingKey } from '../config/config.schema';
import { escapeHtml } from '../messaging/policy/unsubscribe-pages.util';
import {
  ACTIVE_HANDOFF_STATUSES,
  type HandoffContext,
  type HandoffHistoryEntry,
  type HandoffRow,
} from './handoff.types';

export type PageLocale = 'ja' | 'en';

/** How long a CSM's page link works. */
export const HANDOFF_ACCESS_TTL_MS = 14 * 86_400_000;
/** HKDF `info`: the page key is derived from the tracking secrets for this purpose only. */
const ACCESS_KEY_INFO = 'tend/handoff-access/v1';
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOKEN_PATTERN = /^([A-Za-z0-9_-]{1,16})\.([0-9a-f-]{36})\.([0-9]{1,10})\.([A-Za-z0-9_-]{43})$/;

export interface HandoffAccess {
  csmId: string;
  /** Expiry, Unix seconds. */
  exp: number;
}

/**
 * Signed access to the CSM pages: `kid.csmId.exp.tag`, the tag an HMAC-SHA256 (key
 * HKDF-derived from the tracking key `kid`) over `v1.csmId.exp`. It names the CSM (a
 * UUID, never an email address) and expires; a retired key verifies for the grace period.
 */
export class HandoffAccessSigner {
  private readonly keys: SigningKeyRing;

  constructor(keys: readonly TrackingKey[], gracePeriodMs: number) {
    this.keys = new SigningKeyRing(keys, gracePeriodMs, ACCESS_KEY_INFO);
  }

  sign(csmId: string, now: Date, ttlMs = HANDOFF_ACCESS_TTL_MS): string {
    const id = csmId.toLowerCase();
    if (!UUID_PATTERN.test(id)) throw new TypeError('a CSM id is a UUID');
    const exp = Math.ceil((now.getTime() + ttlMs) / 1000);
    const { kid, hmacKey } = this.keys.current;
    return `${kid}.${id}.${exp}.${tagOf(hmacKey, id, exp)}`;
  }

  /** The access a genuine, unexpired token grants, or null (never throws). */
  verify(token: unknown, now: Date): HandoffAccess | null {
    if (typeof token !== 'string' || token.length > 200) return null;
    const match = TOKEN_PATTERN.exec(token);
    if (!match) return null;
    const [, kid, csmId, expText, tag] = match as unknown as [string, string, string, string, string];
    const key = this.keys.verifying(kid, now.getTime());
    if (!key || !UUID_PATTERN.test(csmId)) return null;
    const exp = Number(expText);
    if (!(now.getTime() < exp * 1000)) return null;
    const expected = Buffer.from(tagOf(key.hmacKey, csmId, exp), 'utf8');
    const given = Buffer.from(tag, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    return { csmId, exp };
  }
}

function tagOf(key: KeyObject, csmId: string, exp: number): string {
  return createHmac('sha256', key).update(`v1.${csmId}.${exp}`).digest('base64url');
}

/** Headers of every CSM page: no caching, no referrer (the URL holds the token), strict CSP. */
export const HANDOFF_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
} as const;

const TEXT = {
  ja: {
    listTitle: '引き継ぎ一覧',
    detailTitle: '引き継ぎ',
    csm: '担当CSM',
    status: 'ステータス',
    priority: '優先度',
    reason: '理由',
    kind: '種別',
    account: 'アカウント',
    contact: 'コンタクト',
    created: '作成',
    due: '期限',
    repeats: '再発生',
    filter: '絞り込む',
    all: 'すべて',
    none: '該当する引き継ぎはありません。',
    more: '次のページ',
    back: '一覧に戻る',
    lifecycle: 'ライフサイクル',
    tier: 'ティア',
    plan: 'プラン',
    daysToRenewal: '更新までの日数',
    renewalDate: '更新日',
    arr: 'ARR',
    emails: '最近のメール',
    template: 'テンプレート',
    sentAt: '送信日時',
    opened: '開封',
    clicked: 'クリック',
    yes: 'あり',
    no: 'なし',
    site: 'サイト訪問(セクション別)',
    section: 'セクション',
    views: '閲覧数',
    lastAt: '最終',
    usage: '利用状況(週ごと)',
    week: '週',
    events: 'イベント',
    logins: 'ログイン',
    activeUsers: 'アクティブユーザー',
    recentEvents: '最近のイベント',
    type: '種類',
    at: '日時',
    history: '履歴',
    actor: '実行者',
    note: 'メモ',
    outcome: '結果',
    acknowledge: '対応を開始する',
    resolve: '解決する',
    outcomeLabel: '結果のメモ(必須)',
    dismiss: '却下する',
    dismissNote: '却下の理由(任意)',
    done: '更新しました。',
    conflict: 'この操作はできません(ステータスが変わっています)。',
    outcomeRequired: '結果のメモを入力してください。',
    empty: '(なし)',
    statuses: { open: '未対応', acknowledged: '対応中', resolved: '解決済み', dismissed: '却下' },
    priorities: { low: '低', normal: '通常', high: '高', urgent: '緊急' },
    kinds: { risk: 'リスク', expansion: '拡大', request: '依頼' },
  },
  en: {
    listTitle: 'Handoffs',
    detailTitle: 'Handoff',
    csm: 'CSM',
    status: 'Status',
    priority: 'Priority',
    reason: 'Reason',
    kind: 'Kind',
    account: 'Account',
    contact: 'Contact',
    created: 'Created',
    due: 'Due',
    repeats: 'Repeats',
    filter: 'Filter',
    all: 'All',
    none: 'No handoffs match.',
    more: 'Next page',
    back: 'Back to the list',
    lifecycle: 'Lifecycle',
    tier: 'Tier',
    plan: 'Plan',
    daysToRenewal: 'Days to renewal',
    renewalDate: 'Renewal date',
    arr: 'ARR',
    emails: 'Recent emails',
    template: 'Template',
    sentAt: 'Sent',
    opened: 'Opened',
    clicked: 'Clicked',
    yes: 'yes',
    no: 'no',
    site: 'Site visits by section',
    section: 'Section',
    views: 'Views',
    lastAt: 'Last',
    usage: 'Weekly usage',
    week: 'Week',
    events: 'Events',
    logins: 'Logins',
    activeUsers: 'Active users',
    recentEvents: 'Recent events',
    type: 'Type',
    at: 'At',
    history: 'History',
    actor: 'By',
    note: 'Note',
    outcome: 'Outcome',
    acknowledge: 'Acknowledge',
    resolve: 'Resolve',
    outcomeLabel: 'Outcome note (required)',
    dismiss: 'Dismiss',
    dismissNote: 'Why (optional)',
    done: 'Updated.',
    conflict: 'That action is not possible (the status has changed).',
    outcomeRequired: 'Write an outcome note.',
    empty: '(none)',
    statuses: { open: 'Open', acknowledged: 'Acknowledged', resolved: 'Resolved', dismissed: 'Dismissed' },
    priorities: { low: 'Low', normal: 'Normal', high: 'High', urgent: 'Urgent' },
    kinds: { risk: 'Risk', expansion: 'Expansion', request: 'Request' },
  },
} as const;

const e = (value: string | number | null | undefined): string =>
  escapeHtml(value === null || value === undefined ? '' : String(value));
const iso = (d: Date | string | null): string =>
  d === null ? '' : new Date(d).toISOString().slice(0, 16).replace('T', ' ');
const label = (map: Record<string, string>, key: string): string => map[key] ?? key;

function layout(locale: PageLocale, title: string, body: string): string {
  return `<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${e(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}form.inline{display:inline-block;margin-right:1rem;vertical-align:top}textarea{display:block;width:24rem;height:5rem}.notice{background:#eef7ee;padding:.5rem}.error{background:#fbeaea;padding:.5rem}dl{display:grid;grid-template-columns:max-content auto;gap:.25rem 1rem}dt{font-weight:bold}</style></head>
<body><h1>${e(title)}</h1>${body}</body></html>`;
}

/** The neutral page of a missing, invalid or expired link (401). */
export function renderUnauthorizedPage(): string {
  return layout(
    'en',
    'Link not valid',
    '<p>This link is not valid or has expired. / このリンクは無効か期限切れです。</p>',
  );
}

/** Query string of a page URL: the token, the language and any extra fields. */
export function pageQuery(token: string, locale: PageLocale, extra: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams({ t: token, lang: locale });
  for (const [k, v] of Object.entries(extra)) if (v) params.set(k, v);
  return params.toString();
}

export interface ListPageInput {
  locale: PageLocale;
  token: string;
  filters: { csm: string; status: string; priority: string; reason: string };
  csms: { externalId: string; name: string }[];
  items: HandoffRow[];
  nextCursor: string | null;
}

export function renderListPage(input: ListPageInput): string {
  const t = TEXT[input.locale];
  const f = input.filters;
  const select = (name: string, current: string, options: [string, string][]) =>
    `<select name="${name}" id="f-${name}"><option value="">${e(t.all)}</option>${options
      .map(([v, l]) => `<option value="${e(v)}"${v === current ? ' selected' : ''}>${e(l)}</option>`)
      .join('')}</select>`;
  const form = `<form method="get" action="/csm/handoffs" id="filters">
<input type="hidden" name="t" value="${e(input.token)}"><input type="hidden" name="lang" value="${input.locale}">
<label>${e(t.csm)} ${select(
    'csm',
    f.csm,
    input.csms.map((c) => [c.externalId, c.name]),
  )}</label>
<label>${e(t.status)} ${select('status', f.status, [
    ...Object.entries(t.statuses),
    ['open,acknowledged', `${t.statuses.open} + ${t.statuses.acknowledged}`],
  ])}</label>
<label>${e(t.priority)} ${select('priority', f.priority, Object.entries(t.priorities))}</label>
<label>${e(t.reason)} <input name="reason" value="${e(f.reason)}" size="16"></label>
<button type="submit">${e(t.filter)}</button></form>`;
  const rows = input.items
    .map(
      (
        h,
      ) => `<tr data-handoff="${e(h.id)}"><td><a href="/csm/handoffs/${e(h.id)}?${e(pageQuery(input.token, input.locale))}">${e(h.accountName)}</a></td>
<td>${e(h.reasonText ?? h.reason)}<br><small>${e(h.reason)}</small></td><td>${e(label(t.kinds, h.kind))}</td>
<td>${e(label(t.priorities, h.priority))}</td><td class="status">${e(label(t.statuses, h.status))}</td>
<td>${e(h.csmName ?? '')}</td><td>${e(iso(h.createdAt))}</td><td>${e(iso(h.dueAt))}</td></tr>`,
    )
    .join('\n');
  const table =
    input.items.length === 0
      ? `<p>${e(t.none)}</p>`
      : `<table><thead><tr><th>${e(t.account)}</th><th>${e(t.reason)}</th><th>${e(t.kind)}</th><th>${e(t.priority)}</th><th>${e(t.status)}</th><th>${e(t.csm)}</th><th>${e(t.created)}</th><th>${e(t.due)}</th></tr></thead><tbody>
${rows}</tbody></table>`;
  const more =
    input.nextCursor === null
      ? ''
      : `<p><a href="/csm/handoffs?${e(pageQuery(input.token, input.locale, { ...f, cursor: input.nextCursor }))}">${e(t.more)}</a></p>`;
  return layout(input.locale, t.listTitle, `${form}\n${table}\n${more}`);
}

export interface DetailPageInput {
  locale: PageLocale;
  token: string;
  handoff: HandoffRow;
  history: HandoffHistoryEntry[];
  notice: 'done' | 'conflict' | 'outcome_required' | null;
}

function table(headers: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p>${e(empty)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderDetailPage(input: DetailPageInput): string {
  const t = TEXT[input.locale];
  const h = input.handoff;
  const ctx = ('account' in h.context ? h.context : null) as HandoffContext | null;
  const q = e(pageQuery(input.token, input.locale));
  const hidden = `<input type="hidden" name="t" value="${e(input.token)}"><input type="hidden" name="lang" value="${input.locale}">`;
  const action = (name: string) => `/csm/handoffs/${e(h.id)}/${name}`;
  const notice =
    input.notice === 'done'
      ? `<p class="notice" role="status">${e(t.done)}</p>`
      : input.notice === 'conflict'
        ? `<p class="error" role="alert">${e(t.conflict)}</p>`
        : input.notice === 'outcome_required'
          ? `<p class="error" role="alert">${e(t.outcomeRequired)}</p>`
          : '';
  const active = ACTIVE_HANDOFF_STATUSES.includes(h.status);
  const forms = active
    ? `<section id="actions">${
        h.status === 'open'
          ? `<form class="inline" method="post" action="${action('acknowledge')}" id="acknowledge">${hidden}<button type="submit">${e(t.acknowledge)}</button></form>`
          : ''
      }
<form class="inline" method="post" action="${action('resolve')}" id="resolve">${hidden}<label for="outcome">${e(t.outcomeLabel)}</label><textarea id="outcome" name="outcome" required maxlength="10000"></textarea><button type="submit">${e(t.resolve)}</button></form>
<form class="inline" method="post" action="${action('dismiss')}" id="dismiss">${hidden}<label for="dismiss-note">${e(t.dismissNote)}</label><textarea id="dismiss-note" name="note" maxlength="10000"></textarea><button type="submit">${e(t.dismiss)}</button></form></section>`
    : '';
  const facts: [string, string | number | null][] = [
    [t.status, label(t.statuses, h.status)],
    [t.reason, h.reasonText ? `${h.reasonText} (${h.reason})` : h.reason],
    [t.kind, label(t.kinds, h.kind)],
    [t.priority, label(t.priorities, h.priority)],
    [t.account, `${h.accountName} (${h.accountExternalId})`],
    [t.contact, ctx?.contact ? `${ctx.contact.name ?? ''} (${ctx.contact.externalId})` : (h.contactExternalId ?? '')],
    [t.csm, h.csmName ?? ''],
    [t.created, iso(h.createdAt)],
    [t.due, iso(h.dueAt)],
    [t.repeats, h.repeats],
    [t.note, h.note ?? ''],
    ...(h.outcome !== null ? [[t.outcome, h.outcome] as [string, string | null]] : []),
  ];
  const dl = (pairs: [string, string | number | null][], id: string) =>
    `<dl id="${id}">${pairs.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>`;
  const context = ctx
    ? `<h2>${e(t.account)}</h2>${dl(
        [
          [t.account, ctx.account.name],
          [t.lifecycle, ctx.account.lifecycle],
          [t.tier, ctx.account.tier],
          [t.plan, ctx.account.plan ?? ''],
          [t.daysToRenewal, ctx.account.daysToRenewal ?? ''],
          [t.renewalDate, ctx.account.renewalDate ?? ''],
          [t.arr, ctx.account.arr === null ? '' : `${ctx.account.arr} ${ctx.account.currency ?? ''}`],
        ],
        'context-account',
      )}
<h2>${e(t.emails)}</h2><div id="context-emails">${table(
        [t.template, t.sentAt, t.status, t.opened, t.clicked],
        ctx.emails.map((m) => [
          m.template,
          m.sentAt ?? '',
          m.status,
          m.opened ? t.yes : t.no,
          m.clicked ? t.yes : t.no,
        ]),
        t.empty,
      )}</div>
<h2>${e(t.site)}</h2><div id="context-site">${table(
        [t.section, t.views, t.lastAt],
        ctx.siteVisits.map((s) => [s.section, String(s.views), s.lastAt]),
        t.empty,
      )}</div>
<h2>${e(t.usage)}</h2><div id="context-usage">${table(
        [t.week, t.events, t.logins, t.activeUsers],
        ctx.usage.map((u) => [u.weekStart, String(u.events), String(u.logins), String(u.activeUsers)]),
        t.empty,
      )}</div>
<h2>${e(t.recentEvents)}</h2><div id="context-events">${table(
        [t.type, t.at, t.contact],
        ctx.recentEvents.map((v) => [v.type, v.at, v.contact ?? '']),
        t.empty,
      )}</div>`
    : '';
  const history = `<h2>${e(t.history)}</h2><div id="history">${table(
    [t.at, t.status, t.actor, t.note],
    input.history.map((x) => [
      iso(x.at),
      x.action,
      x.actor ?? '',
      typeof x.detail.note === 'string' ? x.detail.note : '',
    ]),
    t.empty,
  )}</div>`;
  return layout(
    input.locale,
    `${t.detailTitle}: ${h.accountName}`,
    `<p><a href="/csm/handoffs?${q}">${e(t.back)}</a></p>${notice}${dl(facts, 'handoff')}${forms}${context}${history}`,
  );
}
