import { Inject, Injectable } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { Clock } from '../../common/clock';
import { normaliseEmail } from '../../common/email';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { EventsRepository, type NewEventRow } from '../../events/events.repository';
import { MESSAGE_STATUS_RANK } from '../message.entity';
import type { SuppressionReason } from '../suppression.entity';
import { PolicyRepository } from './policy.repository';
import { type MatchedMessage, ProviderEventsRepository, type StatusAdvance } from './provider-events.repository';
import { mapSendgridEvent, parseSendgridEvents } from './sendgrid-events.util';
import { parseSendgridPublicKey, verifySendgridSignature } from './sendgrid-signature.util';

export type WebhookOutcome =
  | { kind: 'unauthorized' }
  | { kind: 'invalid' }
  | { kind: 'accepted'; received: number; stored: number; skipped: number };

/**
 * SendGrid's signed event webhook: verifies the signature over timestamp + raw
 * body, stores each event once (by sg_event_id) and applies its effect in one
 * transaction per request: forward-only message status, suppressions, timeline events.
 */
@Injectable()
export class SendgridWebhookService {
  private readonly key: KeyObject | null;

  constructor(
    private readonly providerEvents: ProviderEventsRepository,
    private readonly policy: PolicyRepository,
    private readonly events: EventsRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const configured = config.mail.sendgridWebhookPublicKey;
    this.key = configured === undefined ? null : parseSendgridPublicKey(configured);
  }

  async handle(
    headers: { signature: string | undefined; timestamp: string | undefined },
    rawBody: Buffer,
  ): Promise<WebhookOutcome> {
    const now = this.clock.now();
    if (this.key === null) {
      logger.warn('sendgrid webhook refused: SENDGRID_WEBHOOK_PUBLIC_KEY is not configured');
      return { kind: 'unauthorized' };
    }
    if (!verifySendgridSignature({ key: this.key, ...headers, rawBody, now })) {
      logger.warn({ bytes: rawBody.length }, 'sendgrid webhook refused: bad or stale signature');
      return { kind: 'unauthorized' };
    }
    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return { kind: 'invalid' };
    }
    const parsed = parseSendgridEvents(body);
    if (parsed === null) return { kind: 'invalid' };
    const { events, skipped } = parsed;

    const stored = await this.providerEvents.transaction(async (manager) => {
      const messages = await this.providerEvents.matchMessages(
        manager,
        unique(events.map((e) => e.messageId)),
        unique(events.map((e) => (e.messageId === null ? e.providerMessageId : null))),
      );
      const byId = new Map(messages.map((m) => [m.id, m]));
      const byProviderId = new Map(
        messages.filter((m) => m.providerMessageId !== null).map((m) => [m.providerMessageId, m]),
      );
      const matched = events.map((e) => ({
        event: e,
        message:
          (e.messageId !== null ? byId.get(e.messageId) : undefined) ??
          (e.messageId === null && e.providerMessageId !== null ? byProviderId.get(e.providerMessageId) : undefined) ??
          null,
      }));

      const inserted = await this.providerEvents.insertEvents(
        manager,
        matched.map(({ event, message }) => ({
          providerEventId: event.eventId,
          provider: 'sendgrid',
          messageId: message?.id ?? null,
          event: event.event,
          occurredAt: event.occurredAt ?? now,
          receivedAt: now,
          payload: event.payload,
        })),
      );
      const fresh = matched.filter(({ event }) => inserted.has(event.eventId));

      const advances = new Map<string, StatusAdvance>();
      const suppressions = new Map<string, SuppressionReason>();
      const timeline: NewEventRow[] = [];
      for (const { event, message } of fresh) {
        const effect = mapSendgridEvent(event);
        if (message !== null && effect.status !== null) {
          mergeAdvance(advances, message, {
            messageId: message.id,
            status: effect.status,
            reason: effect.statusReason,
            deliveredAt: event.event === 'delivered' ? (event.occurredAt ?? now) : null,
          });
        }
        if (effect.suppression !== null) {
          const address = event.email ?? message?.email ?? null;
          if (address !== null) {
            const email = normaliseEmail(address);
            const previous = suppressions.get(email);
            if (previous === undefined || effect.suppression === 'hard_bounce')
              suppressions.set(email, effect.suppression);
          }
        }
        if (effect.timelineType !== null && message !== null) {
          timeline.push({
            type: effect.timelineType,
            occurredAt: event.occurredAt ?? now,
            receivedAt: now,
            accountId: message.accountId,
            contactId: message.contactId,
            visitorId: null,
            source: 'provider',
            idempotencyKey: event.eventId,
            props: effect.props,
          });
        }
      }
      await this.providerEvents.advanceStatuses(manager, [...advances.values()], now);
      const suppressionRows = [...suppressions].map(([email, reason]) => ({ email, reason }));
      await this.policy.addSuppressions(manager, suppressionRows, 'sendgrid', now);
      await this.policy.markContactsBounced(
        manager,
        suppressionRows.filter((s) => s.reason === 'hard_bounce').map((s) => s.email),
      );
      await this.events.appendEvents(manager, timeline);
      return fresh.length;
    });
    logger.info({ received: events.length, stored, skipped }, 'sendgrid events received');
    return { kind: 'accepted', received: events.length, stored, skipped };
  }
}

function unique(values: readonly (string | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== null))];
}

/** Keeps, per message, the highest-ranked status of the batch and the first delivery time. */
function mergeAdvance(advances: Map<string, StatusAdvance>, message: MatchedMessage, next: StatusAdvance): void {
  const previous = advances.get(message.id);
  if (previous === undefined) {
    advances.set(message.id, next);
    return;
  }
  const higher = MESSAGE_STATUS_RANK[next.status] > MESSAGE_STATUS_RANK[previous.status] ? next : previous;
  const deliveredAt =
    previous.deliveredAt === null
      ? next.deliveredAt
      : next.deliveredAt === null || previous.deliveredAt <= next.deliveredAt
        ? previous.deliveredAt
        : next.deliveredAt;
  advances.set(message.id, { ...higher, deliveredAt });
}
