import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { normaliseEmail } from '../../common/email';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { EventsRepository } from '../../events/events.repository';
import { TrackingTokenSigner } from '../../tracking/tracking-token.signer';
import type { Locale } from '../messaging.contracts';
import { PolicyRepository, type UnsubscribeTarget } from './policy.repository';
import {
  KNOWN_TOPICS,
  maskEmail,
  renderConfirmPage,
  renderPreferencesPage,
  renderUnsubscribedPage,
  type TopicChoice,
} from './unsubscribe-pages.util';

const TOPIC_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** A page to answer, or null for the neutral 404 (bad token, unknown message). */
export type PageResult = { html: string } | null;

/**
 * The unsubscribe flow behind `/u/<token>`: confirmation page (no state change),
 * one-click opt-out (RFC 8058) and per-topic preferences.
 */
@Injectable()
export class UnsubscribeService {
  constructor(
    private readonly repository: PolicyRepository,
    private readonly events: EventsRepository,
    private readonly signer: TrackingTokenSigner,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async confirmationPage(token: string): Promise<PageResult> {
    const target = await this.resolve(token);
    if (target === null) return null;
    return { html: renderConfirmPage({ locale: this.localeOf(target), maskedEmail: maskEmail(target.email), token }) };
  }

  /** Suppresses the address (reason unsubscribed); repeating it changes nothing. */
  async unsubscribe(token: string, method: 'one_click' | 'form'): Promise<PageResult> {
    const target = await this.resolve(token);
    if (target === null) return null;
    const now = this.clock.now();
    await this.repository.transaction(async (manager) => {
      const added = await this.repository.addSuppression(manager, {
        email: normaliseEmail(target.email),
        reason: 'unsubscribed',
        source: method,
        note: null,
        createdAt: now,
      });
      if (!added) return;
      await this.events.appendEvents(manager, [
        {
          type: 'email.unsubscribed',
          occurredAt: now,
          receivedAt: now,
          accountId: target.accountId,
          contactId: target.contactId,
          visitorId: null,
          source: 'system',
          idempotencyKey: `unsubscribe:${target.contactId}:${target.messageId}`,
          props: { messageId: target.messageId, method },
        },
      ]);
      logger.info({ contactId: target.contactId, messageId: target.messageId, method }, 'contact unsubscribed');
    });
    return { html: renderUnsubscribedPage({ locale: this.localeOf(target), maskedEmail: maskEmail(target.email) }) };
  }

  async preferencesPage(token: string): Promise<PageResult> {
    const target = await this.resolve(token);
    if (target === null) return null;
    return { html: await this.renderPreferences(target, false) };
  }

  /**
   * Saves the form: every listed topic is subscribed when its box was ticked,
   * unsubscribed otherwise. Returns null for a bad token, 'invalid' for a body that is not the form.
   */
  async savePreferences(token: string, body: unknown): Promise<PageResult | 'invalid'> {
    const target = await this.resolve(token);
    if (target === null) return null;
    const form = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
    if (form === null || form.save !== '1') return 'invalid';
    const raw = form.topics;
    const ticked = new Set(
      (Array.isArray(raw) ? raw : [raw]).filter((t): t is string => typeof t === 'string' && TOPIC_PATTERN.test(t)),
    );
    const current = await this.choicesOf(target.contactId);
    const changes = current
      .filter((c) => c.subscribed !== ticked.has(c.topic))
      .map((c) => ({ topic: c.topic, subscribed: ticked.has(c.topic) }));
    if (changes.length > 0) {
      const now = this.clock.now();
      await this.repository.transaction(async (manager) => {
        await this.repository.savePreferences(manager, target.contactId, changes, now);
        await this.events.appendEvents(manager, [
          {
            type: 'email.preferences_changed',
            occurredAt: now,
            receivedAt: now,
            accountId: target.accountId,
            contactId: target.contactId,
            visitorId: null,
            source: 'system',
            idempotencyKey: `preferences:${target.contactId}:${now.toISOString()}`,
            props: {
              messageId: target.messageId,
              subscribed: changes.filter((c) => c.subscribed).map((c) => c.topic),
              unsubscribed: changes.filter((c) => !c.subscribed).map((c) => c.topic),
            },
          },
        ]);
      });
    }
    return { html: await this.renderPreferences(target, true) };
  }

  private async renderPreferences(target: UnsubscribeTarget, saved: boolean): Promise<string> {
    const [topics, suppression] = await Promise.all([
      this.choicesOf(target.contactId),
      this.repository.findSuppression(normaliseEmail(target.email)),
    ]);
    return renderPreferencesPage({
      locale: this.localeOf(target),
      maskedEmail: maskEmail(target.email),
      topics,
      suppressed: suppression !== null,
      saved,
    });
  }

  /** Known topics, then any other topic the contact has messages or a choice for; absent choice = subscribed. */
  private async choicesOf(contactId: string): Promise<TopicChoice[]> {
    const { messageTopics, choices } = await this.repository.topicsOfContact(contactId);
    const topics = [
      ...KNOWN_TOPICS,
      ...messageTopics.filter((t) => TOPIC_PATTERN.test(t) && !(KNOWN_TOPICS as readonly string[]).includes(t)),
    ];
    return topics.map((topic) => ({ topic, subscribed: choices.get(topic) ?? true }));
  }

  private async resolve(token: string): Promise<UnsubscribeTarget | null> {
    const payload = this.signer.verifyKind(token, 'u', this.clock.now());
    return payload === null ? null : this.repository.unsubscribeTarget(payload.m);
  }

  private localeOf(target: UnsubscribeTarget): Locale {
    return target.contactLocale ?? target.accountLocale ?? this.config.defaults.locale;
  }
}
