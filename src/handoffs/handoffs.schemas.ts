import { z } from 'zod';
import { externalIdSchema } from '../contacts/contacts.schemas';
import { HANDOFF_KINDS, HANDOFF_PRIORITIES, HANDOFF_STATUSES } from './handoff.types';

/** A reason code: one open handoff per account and reason. */
export const reasonSchema = z.string().regex(/^[a-z0-9_]{1,64}$/, 'must be 1-64 of a-z, 0-9 and _');

/** Who acted: a CSM id, an email or a name, as the caller knows them. */
const actorSchema = z.string().trim().min(1, 'must not be empty').max(200);

/** A comma-separated list of one enum (`status=open,acknowledged`). */
function csvOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0),
    )
    .pipe(z.array(z.enum(values)).max(values.length));
}

export const handoffListQuerySchema = z.strictObject({
  csm: externalIdSchema.optional(),
  status: csvOf(HANDOFF_STATUSES).optional(),
  priority: csvOf(HANDOFF_PRIORITIES).optional(),
  reason: reasonSchema.optional(),
  account: externalIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional(),
});
export type HandoffListQuery = z.infer<typeof handoffListQuerySchema>;

export const raiseHandoffSchema = z.strictObject({
  accountExternalId: externalIdSchema,
  contactExternalId: externalIdSchema.nullable().optional(),
  reason: reasonSchema,
  reasonText: z.string().max(2000).nullable().optional(),
  kind: z.enum(HANDOFF_KINDS).default('request'),
  priority: z.enum(HANDOFF_PRIORITIES),
  note: z.string().max(10_000).nullable().optional(),
  idempotencyKey: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'must be 1-200 of A-Z a-z 0-9 _ . : -')
    .optional(),
});
export type RaiseHandoffInput = z.infer<typeof raiseHandoffSchema>;

export const acknowledgeSchema = z.strictObject({ by: actorSchema });
export const resolveSchema = z.strictObject({
  by: actorSchema,
  outcome: z.string().trim().min(1, 'must not be empty').max(10_000),
});
export const dismissSchema = z.strictObject({
  by: actorSchema,
  note: z.string().max(10_000).nullable().optional(),
});

/** `until` must be in the future: checked against the clock by the controller. */
export const techTouchPauseSchema = z.strictObject({
  until: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2026-12-01T00:00:00Z' }),
  note: z.string().max(2000).nullable().optional(),
});

export const handoffIdSchema = z.uuid('must be a handoff id (UUID)');

/** Query of the CSM pages: the signed access token, an optional language and the list filters. */
export const pageQuerySchema = z.object({
  t: z.string().max(300).optional(),
  lang: z.enum(['ja', 'en']).optional(),
  csm: z.string().max(200).optional(),
  status: z.string().max(200).optional(),
  priority: z.string().max(200).optional(),
  reason: z.string().max(200).optional(),
  done: z.string().max(40).optional(),
});
export type PageQuery = z.infer<typeof pageQuerySchema>;

/** A form POST of the CSM pages. */
export const pageFormSchema = z.object({
  t: z.string().max(300),
  lang: z.enum(['ja', 'en']).optional(),
  outcome: z.string().max(10_000).optional(),
  note: z.string().max(10_000).optional(),
});
