import { z } from 'zod';
import { isStorableText, isStorableTime, toPostgresTime, UNSTORABLE_TEXT_MESSAGE } from '../common/storable';
import { isValidTimeZone } from '../common/time-zone.util';
import { ACCOUNT_STATUSES } from './account.entity';
import { CONTACT_ROLES, CONTACT_STATUSES, EMAIL_TRACKING_LEVELS } from './contact.entity';

/** Text PostgreSQL can store (no NUL, no unpaired surrogate), at most `max` characters. */
function text(max: number): z.ZodString {
  return z.string().max(max).refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);
}

export const externalIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[^\s/?#]+$/, 'must not contain spaces, /, ? or #')
  .refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);

const localeSchema = z.enum(['ja', 'en']);
/** Zones already found valid: checking one costs a DateTimeFormat (~0.25 ms), too slow for bulk imports. */
const knownTimeZones = new Set<string>();
const MAX_KNOWN_TIME_ZONES = 2000;

function isKnownTimeZone(zone: string): boolean {
  if (knownTimeZones.has(zone)) return true;
  if (!isValidTimeZone(zone)) return false;
  if (knownTimeZones.size < MAX_KNOWN_TIME_ZONES) knownTimeZones.add(zone);
  return true;
}

const timeZoneSchema = z.string().refine(isKnownTimeZone, 'must be an IANA time zone such as Asia/Tokyo');
const dateSchema = z.iso
  .date('must be a date written YYYY-MM-DD')
  // PostgreSQL has no year 0.
  .refine((d) => !d.startsWith('0000-'), 'must be a date from year 1 on');
/** A time with an offset, stored as PostgreSQL reads it (years 1-9999; offsets past 15:59 normalized). */
const timeSchema = (message?: string) =>
  z.iso
    .datetime({ offset: true, ...(message ? { message } : {}) })
    .refine(isStorableTime, 'must be a time between the years 1 and 9999')
    .transform(toPostgresTime);
const attributeValueSchema = z.union([text(2000), z.number(), z.boolean(), z.null()]);
export const attributesSchema = z
  .record(
    z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'attribute names are lower_snake_case, up to 64 characters'),
    attributeValueSchema,
  )
  .refine((r) => Object.keys(r).length <= 100, 'at most 100 attributes');
const emailSchema = z.string().trim().pipe(z.email('must be an email address').max(320));

export const csmInputSchema = z.strictObject({
  externalId: externalIdSchema,
  name: text(200).min(1),
  email: emailSchema,
  locale: localeSchema.optional(),
  notificationWebhookUrl: z
    .url({ protocol: /^https$/ })
    .max(2000)
    .refine(isStorableText, UNSTORABLE_TEXT_MESSAGE)
    .nullable()
    .optional(),
});
export type CsmInput = z.infer<typeof csmInputSchema>;

const accountFieldsSchema = z.strictObject({
  externalId: externalIdSchema,
  name: text(200).min(1),
  plan: text(100).nullable().optional(),
  arrAmount: z.number().nonnegative().max(999_999_999_999).nullable().optional(),
  arrCurrency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as JPY')
    .nullable()
    .optional(),
  ownerCsmExternalId: externalIdSchema.nullable().optional(),
  contractStartDate: dateSchema.nullable().optional(),
  renewalDate: dateSchema.nullable().optional(),
  timeZone: timeZoneSchema.nullable().optional(),
  locale: localeSchema.nullable().optional(),
  status: z.enum(ACCOUNT_STATUSES).optional(),
  attributes: attributesSchema.optional(),
});

export const accountInputSchema = accountFieldsSchema.superRefine((a, ctx) => {
  if (a.arrAmount != null && a.arrCurrency == null) {
    ctx.addIssue({
      code: 'custom',
      path: ['arrCurrency'],
      message: 'is required when arrAmount is set',
    });
  }
  if (a.contractStartDate && a.renewalDate && a.renewalDate < a.contractStartDate) {
    ctx.addIssue({
      code: 'custom',
      path: ['renewalDate'],
      message: 'must not be before contractStartDate',
    });
  }
});
export type AccountInput = z.infer<typeof accountInputSchema>;

export const consentSchema = z.discriminatedUnion('basis', [
  z.strictObject({
    basis: z.literal('opt_in'),
    at: timeSchema('must be an ISO 8601 time with offset'),
    method: text(100).min(1),
    source: text(500).min(1),
  }),
  z.strictObject({
    basis: z.literal('existing_relationship'),
    at: timeSchema().optional(),
    method: text(100).optional(),
    source: text(500).optional(),
  }),
]);
export type ConsentInput = z.infer<typeof consentSchema>;

export const contactInputSchema = z.strictObject({
  externalId: externalIdSchema,
  accountExternalId: externalIdSchema,
  email: emailSchema,
  name: text(200).nullable().optional(),
  roles: z.array(z.enum(CONTACT_ROLES)).max(CONTACT_ROLES.length).optional(),
  locale: localeSchema.nullable().optional(),
  timeZone: timeZoneSchema.nullable().optional(),
  status: z.enum(CONTACT_STATUSES).optional(),
  consent: consentSchema.nullable().optional(),
  /** Email tracking consent: `full` (opens and clicks), `clicks`, `none`; null follows EMAIL_TRACKING_DEFAULT. */
  emailTracking: z.enum(EMAIL_TRACKING_LEVELS).nullable().optional(),
  attributes: attributesSchema.optional(),
});
export type ContactInput = z.infer<typeof contactInputSchema>;

/** PATCH bodies: every field optional, the external id comes from the URL. */
export const csmPatchSchema = csmInputSchema.omit({ externalId: true }).partial();
export const accountPatchSchema = accountFieldsSchema.omit({ externalId: true }).partial();
export const contactPatchSchema = contactInputSchema.omit({ externalId: true }).partial();

export const listQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(1000).optional(),
});
