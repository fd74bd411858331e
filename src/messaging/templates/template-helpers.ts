import Handlebars from 'handlebars';
import { DateTime } from 'luxon';
import type { Locale } from '../messaging.contracts';

/**
 * Per-render private data, reachable from helpers as `options.data` (and in
 * templates as `@locale`, `@timeZone`).
 */
export interface RenderData {
  locale: Locale;
  timeZone: string;
  /** Epoch ms of "now" for `daysUntil` (from the injected Clock). */
  nowMs: number;
}

interface HelperOptions {
  data?: Partial<RenderData>;
  hash?: Record<string, unknown>;
}

const INTL_LOCALES: Record<Locale, string> = { ja: 'ja-JP', en: 'en-US' };
const DATE_PRESETS = {
  short: DateTime.DATE_SHORT,
  medium: DateTime.DATE_MED,
  long: DateTime.DATE_FULL,
  full: DateTime.DATE_HUGE,
  datetime: DateTime.DATETIME_MED,
  time: DateTime.TIME_SIMPLE,
} as const;

/** Names the template check accepts as helpers (Handlebars built-ins + ours). */
export const BUILTIN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup', 'log'] as const;
export const CUSTOM_HELPERS = ['formatDate', 'formatNumber', 'formatCurrency', 'daysUntil', 'eq'] as const;
export const KNOWN_HELPERS: ReadonlySet<string> = new Set<string>([...BUILTIN_HELPERS, ...CUSTOM_HELPERS]);

const numberFormats = new Map<string, Intl.NumberFormat>();
function numberFormat(locale: Locale, options: Intl.NumberFormatOptions, key: string): Intl.NumberFormat {
  const cacheKey = `${locale}|${key}`;
  let format = numberFormats.get(cacheKey);
  if (format === undefined) {
    format = new Intl.NumberFormat(INTL_LOCALES[locale], options);
    numberFormats.set(cacheKey, format);
  }
  return format;
}

/** Handlebars passes the options object last; every argument before it is positional. */
function split(args: unknown[]): { params: unknown[]; options: HelperOptions } {
  const options = (args[args.length - 1] ?? {}) as HelperOptions;
  return { params: args.slice(0, -1), options };
}

function context(options: HelperOptions): RenderData {
  return {
    locale: options.data?.locale ?? 'ja',
    timeZone: options.data?.timeZone ?? 'UTC',
    nowMs: options.data?.nowMs ?? 0,
  };
}

/** A date from an ISO string (date-only = that calendar day in the recipient's zone), Date or epoch ms. */
export function toDateTime(value: unknown, zone: string): DateTime | null {
  let dt: DateTime;
  if (value instanceof Date) dt = DateTime.fromJSDate(value, { zone });
  else if (typeof value === 'number') dt = DateTime.fromMillis(value, { zone });
  else if (typeof value === 'string' && value.trim() !== '') dt = DateTime.fromISO(value.trim(), { zone });
  else return null;
  return dt.isValid ? dt : null;
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/**
 * `{{formatDate value}}` (long date), `{{formatDate value "short"}}` (a preset:
 * short, medium, long, full, datetime, time) or `{{formatDate value "yyyy/MM/dd HH:mm"}}`
 * (a Luxon format), in the recipient's locale and time zone. Empty for a missing value.
 */
function formatDate(...args: unknown[]): string {
  const { params, options } = split(args);
  const { locale, timeZone } = context(options);
  const dt = toDateTime(params[0], timeZone);
  if (dt === null) return '';
  const format = typeof params[1] === 'string' ? params[1] : 'long';
  const localized = dt.setLocale(INTL_LOCALES[locale]);
  const preset = (DATE_PRESETS as Record<string, Intl.DateTimeFormatOptions | undefined>)[format];
  return preset !== undefined ? localized.toLocaleString(preset) : localized.toFormat(format);
}

/** `{{formatNumber value}}` or `{{formatNumber value 1}}` (fraction digits), grouped per locale. */
function formatNumber(...args: unknown[]): string {
  const { params, options } = split(args);
  const n = toNumber(params[0]);
  if (n === null) return '';
  const digits = toNumber(params[1]);
  const fraction = digits === null ? null : Math.max(0, Math.min(10, Math.trunc(digits)));
  return numberFormat(
    context(options).locale,
    fraction === null ? {} : { minimumFractionDigits: fraction, maximumFractionDigits: fraction },
    `n${fraction}`,
  ).format(n);
}

/** `{{formatCurrency value}}` (JPY) or `{{formatCurrency value "USD"}}`. */
function formatCurrency(...args: unknown[]): string {
  const { params, options } = split(args);
  const n = toNumber(params[0]);
  if (n === null) return '';
  const currency = typeof params[1] === 'string' && /^[A-Z]{3}$/.test(params[1]) ? params[1] : 'JPY';
  return numberFormat(context(options).locale, { style: 'currency', currency }, `c${currency}`).format(n);
}

/** Whole calendar days from today (recipient's zone) to the date; negative when past; empty when missing. */
function daysUntil(...args: unknown[]): string {
  const { params, options } = split(args);
  const { timeZone, nowMs } = context(options);
  const dt = toDateTime(params[0], timeZone);
  if (dt === null) return '';
  const today = DateTime.fromMillis(nowMs, { zone: timeZone }).startOf('day');
  return String(Math.round(dt.startOf('day').diff(today, 'days').days));
}

/** `{{#if (eq a b)}}`. */
function eq(...args: unknown[]): boolean {
  const { params } = split(args);
  return params[0] === params[1];
}

/** A Handlebars environment with Tend's helpers and nothing else registered. */
export function createHandlebars(): typeof Handlebars {
  const hbs = Handlebars.create();
  hbs.registerHelper({ formatDate, formatNumber, formatCurrency, daysUntil, eq });
  return hbs;
}
