import { z } from 'zod';

/** POST /api/messages */
export const enqueueMessageSchema = z.strictObject({
  idempotencyKey: z.string().trim().min(1).max(200),
  contactExternalId: z.string().trim().min(1).max(200),
  template: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/, 'must be a template id such as onboarding/first-steps'),
  data: z.record(z.string(), z.json()).optional(),
  sendAt: z.iso.datetime({ offset: true }).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});
export type EnqueueMessageBody = z.infer<typeof enqueueMessageSchema>;
