import { z } from 'zod';
import { boundedPropsSchema } from './site-props.util';

const visitorIdSchema = z.uuid('must be the visitor id the snippet set');

/** Custom event names from `tend.track(name)`; recorded as `site.<name>`. */
export const CUSTOM_EVENT_NAME = /^[a-z][a-z0-9_]{0,39}$/;

const siteEventSchema = z.strictObject({
  id: z.uuid(),
  type: z
    .string()
    .regex(CUSTOM_EVENT_NAME, 'must be lower_snake_case, up to 40 characters')
    .refine((t) => t !== 'page_viewed', 'is reserved'),
  url: z.string().max(2000),
  title: z.string().max(500).optional(),
  referrer: z.string().max(2000).optional(),
  props: boundedPropsSchema.optional(),
});
export type SiteEventInput = z.infer<typeof siteEventSchema>;

export const collectSchema = z.strictObject({
  v: visitorIdSchema,
  e: z.array(siteEventSchema).min(1).max(20),
});

export const identifySchema = z.union([
  z.strictObject({ v: visitorIdSchema, t: z.string().min(10).max(120) }),
  z.strictObject({ v: visitorIdSchema, email: z.string().trim().max(320).pipe(z.email()) }),
]);
