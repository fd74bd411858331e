import { z } from 'zod';
import type { JsonObject } from '../common/json';
import { IDENTITY_PARAM } from './email-tracking.service';

/** Custom event props from a public page: flat, small, bounded. */
export const boundedPropsSchema = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/),
    z.union([z.string().max(500), z.number(), z.boolean(), z.null()]),
  )
  .refine((r) => Object.keys(r).length <= 20, 'at most 20 props') as z.ZodType<JsonObject>;

/**
 * A page address as stored: origin, path and query only. The fragment is dropped (it can
 * carry secrets: `#access_token=` after an OAuth sign-in), so are credentials
 * (`https://user:pw@…`) and Tend's own identity parameter. Null when `url` does not parse
 * or is not http(s).
 */
export function storedPageUrl(url: string): { url: string; origin: string; path: string } | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  parsed.searchParams.delete(IDENTITY_PARAM);
  return { url: `${parsed.origin}${parsed.pathname}${parsed.search}`, origin: parsed.origin, path: parsed.pathname };
}

/** The stored form of a page on one of the allowed origins, or null when it is not on one. */
export function pageOnOrigin(url: string, allowedOrigins: readonly string[]): { url: string; path: string } | null {
  const page = storedPageUrl(url);
  return page !== null && allowedOrigins.includes(page.origin) ? { url: page.url, path: page.path } : null;
}
