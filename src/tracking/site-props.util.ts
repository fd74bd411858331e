import { z } from 'zod';
import type { JsonObject } from '../common/json';

/** Custom event props from a public page: flat, small, bounded. */
export const boundedPropsSchema = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/),
    z.union([z.string().max(500), z.number(), z.boolean(), z.null()]),
  )
  .refine((r) => Object.keys(r).length <= 20, 'at most 20 props') as z.ZodType<JsonObject>;

/** Keeps only the path and query of a URL on an allowed origin, or null when it is not on one. */
export function pageOnOrigin(url: string, allowedOrigins: readonly string[]): URL | null {
  try {
    const parsed = new URL(url);
    return allowedOrigins.includes(parsed.origin) ? parsed : null;
  } catch {
    return null;
  }
}
