import { z } from 'zod';
import { externalIdSchema } from '../contacts/contacts.schemas';
import { isStorableText, isStorableTime, toEpochMicros, UNSTORABLE_TEXT_MESSAGE } from '../common/storable';
import { checkPropsBounds } from './props-bounds.util';

/**
 * Batch bounds and the HTTP body limit. One event is at most ~9.3 KiB of JSON: props
 * 8 KiB (PROPS_LIMITS.maxBytes) + id 200 + type 64 + two external ids 200 each +
 * occurredAt ~35 + field names. The Fastify body limit (JSON_BODY_LIMIT_BYTES, 2 MiB by
 * default) therefore always admits a single maximal event, and admits a full batch of
 * 1,000 events when they average under ~2 KiB each (the usage events products send are
 * a few hundred bytes: 1,000 of them from `test/support/generate-events.ts` are ~200 KiB).
 * A batch over the limit is refused whole with 413 before parsing; the caller splits it.
 * Keeping the body limit as the bound on the batch total is deliberate: it is what stops
 * 1,000 x 8 KiB (8 MiB) bodies from being buffered.
 */
export const MAX_EVENTS_PER_BATCH = 1000;

/** Events may arrive a little early (clock skew) but not from the future. */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** Older events are refused: usage metrics look back at most about a year. */
export const MAX_EVENT_AGE_DAYS = 400;

export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_.]{0,63}$/;

/** Event types Tend writes itself; the API refuses them so usage cannot be forged as mail or site activity. */
export const RESERVED_EVENT_TYPE_PREFIXES = ['email.', 'site.', 'handoff.', 'tend.'] as const;

export function reservedPrefixOf(type: string): string | undefined {
  return RESERVED_EVENT_TYPE_PREFIXES.find((prefix) => type.startsWith(prefix));
}

const eventTypeSchema = z
  .string()
  .regex(EVENT_TYPE_PATTERN, 'must start with a-z and contain only a-z, 0-9, _ and ., up to 64 characters');

const apiEventTypeSchema = eventTypeSchema.superRefine((type, ctx) => {
  const prefix = reservedPrefixOf(type);
  if (prefix !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `is reserved: types starting with "${prefix}" are written by Tend itself (reserved: ${RESERVED_EVENT_TYPE_PREFIXES.join(', ')})`,
    });
  }
});

/** An account or contact external id; also refuses text PostgreSQL cannot store. */
export const referenceSchema = externalIdSchema.refine(
  isStorableText,
  'must not contain NUL characters or unpaired surrogates',
);

const callerEventIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^\S+$/, 'must not contain whitespace')
  .refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);

/**
 * A JSON object within PROPS_LIMITS. checkPropsBounds walks it once (shape, depth, keys,
 * strings, size); a generic record schema would walk it a second time and cost as much as
 * the rest of the event's validation.
 */
const propsSchema = z.custom<Record<string, unknown>>().superRefine((props, ctx) => {
  for (const issue of checkPropsBounds(props)) {
    ctx.addIssue({ code: 'custom', path: issue.path === '' ? [] : issue.path.split('.'), message: issue.message });
  }
});

export const eventInputSchema = z.strictObject({
  /** The caller's id for the event: retrying with the same id never stores it twice. */
  id: callerEventIdSchema,
  type: apiEventTypeSchema,
  occurredAt: z.iso.datetime({
    offset: true,
    message: 'must be an ISO 8601 time with an offset, e.g. 2026-11-20T09:00:00+09:00',
  }),
  accountExternalId: referenceSchema,
  contactExternalId: referenceSchema.optional(),
  props: propsSchema.optional(),
});
export type EventInput = z.infer<typeof eventInputSchema>;

/**
 * Checked in two steps so an oversized batch is refused by its length alone, without
 * validating (and reporting on) thousands of elements.
 */
export const eventBatchEnvelopeSchema = z.strictObject({
  events: z
    .array(z.unknown())
    .min(1, 'must contain at least one event')
    .max(MAX_EVENTS_PER_BATCH, `must contain at most ${MAX_EVENTS_PER_BATCH} events; split larger batches`),
});

export const eventBatchSchema = z.strictObject({ events: z.array(eventInputSchema) });
export type EventBatchInput = z.infer<typeof eventBatchSchema>;

/** A `+09:00` offset left unencoded in a query string arrives as ` 09:00`; read it as meant. */
const queryTimeSchema = z
  .string()
  .transform((text) => text.replace(/ (\d{2}:\d{2})$/, '+$1'))
  .pipe(z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with an offset' }))
  .refine(isStorableTime, 'must be a time between the years 1 and 9999');

export const timelineQuerySchema = z
  .strictObject({
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().max(200).optional(),
    order: z.enum(['asc', 'desc']).default('desc'),
    /** Comma-separated event types; system types (email.*, site.*, ...) may be filtered on. */
    types: z
      .string()
      .max(2000)
      .transform((text) => [...new Set(text.split(',').map((t) => t.trim()))].filter((t) => t !== ''))
      .pipe(z.array(eventTypeSchema).min(1, 'must name at least one event type').max(50, 'at most 50 types'))
      .optional(),
    /** Inclusive lower bound on occurredAt. */
    since: queryTimeSchema.optional(),
    /** Exclusive upper bound on occurredAt. */
    until: queryTimeSchema.optional(),
  })
  .superRefine((q, ctx) => {
    if (q.since !== undefined && q.until !== undefined && toEpochMicros(q.until) <= toEpochMicros(q.since)) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'must be after since' });
    }
  });
export type TimelineQuery = z.infer<typeof timelineQuerySchema>;
