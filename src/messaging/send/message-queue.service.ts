import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/domain-error';
import type { JsonObject } from '../../common/json';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { MessageRenderer, type TemplateTraits } from '../messaging.contracts';
import type { RecipientContext } from '../recipient-context.query';
import { resolveTimeZone } from './recipient-zone.util';
import { type MessageRow, type NewMessage, SendRepository } from './send.repository';

export interface EnqueueRequest {
  /** The scenario step occurrence, or `api:<caller key>`: one message per key, ever. */
  intentKey: string;
  contactId: string;
  template: string;
  data?: JsonObject;
  dueAt?: Date;
  expiresAt?: Date | null;
  /** False: advertising mail that goes out even while the account has an open handoff. */
  holdDuringHandoff?: boolean;
}

/**
 * Puts messages on the send queue (the `messages` table). Kind and topic come from a
 * render at enqueue (the template decides them; it also proves the template renders for
 * this contact); the content actually sent is rendered again at send time.
 */
@Injectable()
export class MessageQueue {
  constructor(
    private readonly repository: SendRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly renderer?: MessageRenderer,
  ) {}

  /** Idempotent: a seen intent key returns the stored message with `created: false`. */
  async enqueue(manager: EntityManager, request: EnqueueRequest): Promise<{ message: MessageRow; created: boolean }> {
    const existing = await this.repository.findByIntentKey(manager, request.intentKey);
    if (existing) return { message: existing, created: false };
    if (!this.renderer) throw new Error('No MessageRenderer is registered');
    if (!this.renderer.has(request.template)) {
      throw new DomainError(ErrorCode.Invalid, 'Unknown template', [{ path: 'template', message: 'unknown template' }]);
    }
    const context = await this.repository.recipientContext(manager, request.contactId);
    if (!context) throw new DomainError(ErrorCode.NotFound, 'No such contact');
    const now = this.clock.now();
    const id = randomUUID();
    const locale = context.contactLocale ?? context.accountLocale ?? this.config.defaults.locale;
    const probe = await this.renderer.render({
      template: request.template,
      locale,
      messageId: id,
      recipient: { ...context.recipient, timeZone: resolveTimeZone(context, this.config) },
      account: context.account,
      data: request.data ?? {},
      tracking: { opens: false, clicks: false },
    });
    return this.repository.insertMessage(manager, this.newMessage(id, request, context, probe, now));
  }

  /**
   * Enqueues many messages in a few statements (a scenario batch): one recipient query and one
   * insert. Kind, topic and locale come from the template catalog without rendering; the
   * content is rendered at send time, where a render failure ends the message as `dead` with
   * reason `render_failed: ...` (and an `email.dead` event). Idempotent
   * per intent key like `enqueue`. Returns the message id of every intent key. Throws when a
   * template or contact is unknown (the caller retries its items one by one to isolate it).
   */
  async enqueueMany(manager: EntityManager, requests: readonly EnqueueRequest[]): Promise<Map<string, string>> {
    if (requests.length === 0) return new Map();
    const renderer = this.renderer;
    if (!renderer) throw new Error('No MessageRenderer is registered');
    const contexts = await this.repository.recipientContexts(
      manager,
      requests.map((r) => r.contactId),
    );
    const now = this.clock.now();
    const messages = requests.map((request) => {
      const context = contexts.get(request.contactId);
      if (!context) throw new DomainError(ErrorCode.NotFound, 'No such contact');
      const locale = context.contactLocale ?? context.accountLocale ?? this.config.defaults.locale;
      const traits = renderer.describe(request.template, locale);
      if (!traits) {
        throw new DomainError(ErrorCode.Invalid, 'Unknown template', [
          { path: 'template', message: 'unknown template' },
        ]);
      }
      return this.newMessage(randomUUID(), request, context, traits, now);
    });
    const stored = await this.repository.insertMessages(manager, messages);
    return new Map([...stored].map(([intentKey, { message }]) => [intentKey, message.id]));
  }

  /** The row of a request, with what its template decides (locale after fallback, kind, topic). */
  private newMessage(
    id: string,
    request: EnqueueRequest,
    context: RecipientContext,
    traits: TemplateTraits,
    now: Date,
  ): NewMessage {
    return {
      id,
      intentKey: request.intentKey,
      contactId: context.recipient.contactId,
      accountId: context.account.accountId,
      template: request.template,
      locale: traits.locale,
      kind: traits.kind,
      topic: traits.topic,
      data: request.data ?? {},
      dueAt: request.dueAt ?? now,
      expiresAt: request.expiresAt ?? null,
      createdAt: now,
      holdDuringHandoff: request.holdDuringHandoff ?? true,
    };
  }
}
