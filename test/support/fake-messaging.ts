import type { EntityManager } from 'typeorm';
import type { MessageKind } from '../../src/messaging/message.entity';
import {
  type Locale,
  MessageRenderer,
  type PolicyVerdict,
  RecipientPolicy,
  type RenderedMessage,
  type RenderRequest,
  type TemplateTraits,
} from '../../src/messaging/messaging.contracts';

/** Templates of the fake renderer: id -> kind and topic. */
export const FAKE_TEMPLATES: Record<string, { kind: MessageKind; topic: string | null }> = {
  'onboarding/first-steps': { kind: 'advertising', topic: 'product_tips' },
  'account/notice': { kind: 'operational', topic: null },
};

/** A tiny stand-in for the templates part (until the real renderer lands). */
export class FakeRenderer extends MessageRenderer {
  renders = 0;
  override has(template: string): boolean {
    return template in FAKE_TEMPLATES;
  }
  override describe(template: string, locale: Locale): TemplateTraits | undefined {
    const t = FAKE_TEMPLATES[template];
    return t && { locale, kind: t.kind, topic: t.topic };
  }
  override render(request: RenderRequest): Promise<RenderedMessage> {
    this.renders += 1;
    const t = FAKE_TEMPLATES[request.template];
    if (!t) throw new Error(`unknown template ${request.template}`);
    const name = request.recipient.name ?? 'お客様';
    const links = ['https://docs.acme.example/getting-started', 'https://acme.example/case-study'];
    return Promise.resolve({
      template: request.template,
      locale: request.locale,
      kind: t.kind,
      topic: t.topic,
      subject: `【Acme】${name}様、はじめの一歩`,
      preheader: null,
      html: `<html><body><p>${name}様</p><p>ご利用ありがとうございます。まずは設定ガイドをご覧ください。</p>${links
        .map((l, i) => `<a href="https://t.example/c/${request.messageId}/${i}">link ${i}</a>`)
        .join('')}</body></html>`,
      text: `${name}様\nご利用ありがとうございます。まずは設定ガイドをご覧ください。`,
      links,
      unsubscribeUrl: `https://tend.example/u/token-${request.messageId}`,
    });
  }
}

/** Recipient policy stand-in: denies contacts marked unsubscribed in `denied`; records what it was asked. */
export class FakePolicy extends RecipientPolicy {
  readonly denied = new Set<string>();
  readonly asked: { contactId: string; kind: MessageKind; topic: string | null }[] = [];
  override check(
    _manager: EntityManager,
    contactId: string,
    kind: MessageKind,
    topic: string | null,
  ): Promise<PolicyVerdict> {
    this.asked.push({ contactId, kind, topic });
    return Promise.resolve(this.denied.has(contactId) ? { allowed: false, reason: 'unsubscribed' } : { allowed: true });
  }
}
