import { z } from 'zod';

const emailSchema = z.string().trim().pipe(z.email('must be an email address').max(320));

export const addSuppressionSchema = z.strictObject({
  email: emailSchema,
  reason: z.literal('manual', 'only manual suppressions are added through the API'),
  note: z.string().max(1000).optional(),
});

export const removeSuppressionSchema = z.strictObject({ email: emailSchema });
