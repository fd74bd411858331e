import type { EntityManager } from 'typeorm';
import type { MessageKind } from './message.entity';

/**
 * Contracts between the three parts of messaging: templates (render), the send
 * pipeline (queue, transports, caps) and recipient policy (suppression, consent,
 * preferences, unsubscribe). Each part depends on these, not on the others' classes.
 */

export type Locale = 'ja' | 'en';

/** URL scheme of the unsubscribe flow; the token is TrackingTokenSigner's `{ k: 'u', m: messageId }`. */
export const UNSUBSCRIBE_PATH = '/u';
export function unsubscribeUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl}${UNSUBSCRIBE_PATH}/${token}`;
}
export function preferencesUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl}${UNSUBSCRIBE_PATH}/${token}/preferences`;
}

export interface RenderRecipient {
  contactId: string;
  externalId: string;
  name: string | null;
  email: string;
  /** Resolved: contact, then account, then DEFAULT_TIMEZONE. */
  timeZone: string;
  roles: string[];
  attributes: Record<string, string | number | boolean | null>;
}

export interface RenderAccount {
  accountId: string;
  externalId: string;
  name: string;
  plan: string | null;
  renewalDate: string | null;
  attributes: Record<string, string | number | boolean | null>;
}

export interface RenderRequest {
  /** Template id, e.g. `onboarding/first-steps`. */
  template: string;
  /** Wanted locale; the template falls back to DEFAULT_LOCALE when it has no body in it. */
  locale: Locale;
  /** Our message id (UUID): signs tracking and unsubscribe tokens. */
  messageId: string;
  recipient: RenderRecipient;
  account: RenderAccount;
  /** Extra variables from the caller or scenario step. */
  data: Record<string, unknown>;
  /** Add the open pixel / rewrite links to signed click URLs (per the contact's tracking consent). */
  tracking: { opens: boolean; clicks: boolean };
}

export interface RenderedMessage {
  template: string;
  /** Locale actually used (after fallback). */
  locale: Locale;
  kind: MessageKind;
  /** Preference topic (advertising mail), or null. */
  topic: string | null;
  subject: string;
  preheader: string | null;
  html: string;
  text: string;
  /** Original URLs of the rewritten links, by link index (store them in message_links). */
  links: string[];
  /** One-click unsubscribe URL for List-Unsubscribe (advertising mail; also present for operational). */
  unsubscribeUrl: string;
}

/** Renders one message for one recipient. Implemented by the templates part. */
export abstract class MessageRenderer {
  abstract render(request: RenderRequest): Promise<RenderedMessage>;
  /** Whether a template exists (in the default locale at least). */
  abstract has(template: string): boolean;
  /**
   * What a message of this template for a recipient wanting `locale` will be, without
   * rendering it (the locale after fallback, kind and topic); undefined for an unknown template.
   */
  abstract describe(template: string, locale: Locale): TemplateTraits | undefined;
}

/** The traits a template decides for every message of it. */
export type TemplateTraits = Pick<RenderedMessage, 'locale' | 'kind' | 'topic'>;

export type PolicyVerdict = { allowed: true } | { allowed: false; reason: string };

export interface PolicyQuestion {
  contactId: string;
  kind: MessageKind;
  topic: string | null;
}

/**
 * May this contact receive this kind of mail now? Checked at send time inside the
 * send transaction (suppression list, contact status, consent basis for advertising
 * mail, topic preference). Implemented by the recipient-policy part.
 */
export abstract class RecipientPolicy {
  abstract check(
    manager: EntityManager,
    contactId: string,
    kind: MessageKind,
    topic: string | null,
  ): Promise<PolicyVerdict>;

  /** `check` for many recipients at once (the send worker's group commit); same answers, in order. */
  checkMany(manager: EntityManager, items: readonly PolicyQuestion[]): Promise<PolicyVerdict[]> {
    return Promise.all(items.map((i) => this.check(manager, i.contactId, i.kind, i.topic)));
  }
}
