import { z } from 'zod';
import type { JsonObject } from '../../common/json';
import type { MessageStatus } from '../message.entity';
import type { SuppressionReason } from '../suppression.entity';

/** Custom arg the send pipeline puts on every SendGrid message: our message id. */
export const MESSAGE_ID_CUSTOM_ARG = 'tend_message_id';
/** More than this many events in one request is refused (SendGrid batches far fewer). */
export const MAX_EVENTS_PER_REQUEST = 5000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const eventSchema = z.looseObject({
  sg_event_id: z.string().min(1).max(200),
  event: z.string().min(1).max(64),
  timestamp: z.number().finite().optional(),
  email: z.string().max(320).optional(),
  sg_message_id: z.string().max(500).optional(),
  type: z.string().max(64).optional(),
  url: z.string().max(4000).optional(),
  sg_machine_open: z.boolean().optional(),
  [MESSAGE_ID_CUSTOM_ARG]: z.string().optional(),
});

/** One SendGrid event, reduced to what Tend uses; `payload` keeps the whole object for provider_events. */
export interface SendgridEvent {
  eventId: string;
  event: string;
  occurredAt: Date | null;
  email: string | null;
  /** Our message id from custom args, when it is a UUID. */
  messageId: string | null;
  /** The provider's message id (before the first `.`), for events without our custom arg. */
  providerMessageId: string | null;
  bounceType: string | null;
  url: string | null;
  machineOpen: boolean;
  payload: JsonObject;
}

/** Parses a webhook body: an array of events. Malformed entries are skipped and counted, duplicates by id dropped. */
export function parseSendgridEvents(body: unknown): { events: SendgridEvent[]; skipped: number } | null {
  if (!Array.isArray(body) || body.length > MAX_EVENTS_PER_REQUEST) return null;
  const seen = new Set<string>();
  const events: SendgridEvent[] = [];
  let skipped = 0;
  for (const item of body) {
    const parsed = eventSchema.safeParse(item);
    if (!parsed.success) {
      skipped += 1;
      continue;
    }
    const e = parsed.data;
    if (seen.has(e.sg_event_id)) continue;
    seen.add(e.sg_event_id);
    const ourId = e[MESSAGE_ID_CUSTOM_ARG];
    events.push({
      eventId: e.sg_event_id,
      event: e.event,
      occurredAt: e.timestamp === undefined ? null : new Date(e.timestamp * 1000),
      email: e.email ?? null,
      messageId: ourId !== undefined && UUID.test(ourId) ? ourId.toLowerCase() : null,
      providerMessageId: e.sg_message_id ? (e.sg_message_id.split('.')[0] ?? null) : null,
      bounceType: e.type ?? null,
      url: e.url ?? null,
      machineOpen: e.sg_machine_open === true,
      payload: item as JsonObject,
    });
  }
  return { events, skipped };
}

/** What one provider event does to Tend's state. */
export interface SendgridEffect {
  /** Status the message moves to, if it ranks higher than the current one. */
  status: MessageStatus | null;
  /** Short code stored with a status change (never provider text, which can hold addresses). */
  statusReason: string | null;
  suppression: SuppressionReason | null;
  /** Timeline event type, or null for events Tend does not put on timelines. */
  timelineType: string | null;
  props: JsonObject;
}

/** Maps a SendGrid event to its effect. */
export function mapSendgridEvent(e: SendgridEvent): SendgridEffect {
  const base: JsonObject = { provider: 'sendgrid', providerEvent: e.event };
  if (e.messageId !== null) base.messageId = e.messageId;
  const none = { status: null, statusReason: null, suppression: null };
  switch (e.event) {
    case 'processed':
      return { ...none, status: 'sent', timelineType: 'email.processed', props: base };
    case 'delivered':
      return { ...none, status: 'delivered', timelineType: 'email.delivered', props: base };
    case 'deferred':
      return {
        ...none,
        status: 'deferred',
        statusReason: 'provider_deferred',
        timelineType: 'email.deferred',
        props: base,
      };
    case 'dropped':
      return { ...none, status: 'dead', statusReason: 'provider_dropped', timelineType: 'email.dropped', props: base };
    case 'bounce': {
      const hard = e.bounceType !== 'blocked';
      return {
        status: 'bounced',
        statusReason: hard ? 'hard_bounce' : 'blocked',
        suppression: hard ? 'hard_bounce' : null,
        timelineType: 'email.bounced',
        props: { ...base, bounceType: hard ? 'bounce' : 'blocked' },
      };
    }
    case 'spamreport':
      return {
        status: 'complained',
        statusReason: 'spam_complaint',
        suppression: 'spam_complaint',
        timelineType: 'email.complained',
        props: base,
      };
    case 'unsubscribe':
    case 'group_unsubscribe':
      return {
        ...none,
        suppression: 'unsubscribed',
        timelineType: 'email.unsubscribed',
        props: { ...base, method: 'provider' },
      };
    case 'open':
      return {
        ...none,
        timelineType: 'email.opened',
        props: { ...base, classification: e.machineOpen ? 'machine' : 'human' },
      };
    case 'click':
      return {
        ...none,
        timelineType: 'email.clicked',
        props: { ...base, classification: e.machineOpen ? 'machine' : 'human', ...(e.url ? { url: e.url } : {}) },
      };
    default:
      return { ...none, timelineType: null, props: base };
  }
}
