import type { MailTransportKind } from '../../../config/app-config';
import type { OutgoingMail } from '../outgoing-mail';

export interface TransportResult {
  /** The provider's id (SendGrid X-Message-Id, SMTP queue response), when it gives one. */
  providerMessageId: string | null;
}

/**
 * Hands one message to a provider. `send` resolves when the provider accepted it and
 * rejects with a `SendFailure` saying whether it may be retried; any other error means
 * the outcome is unknown.
 */
export abstract class MailTransport {
  abstract readonly kind: MailTransportKind;
  abstract send(mail: OutgoingMail): Promise<TransportResult>;
  /**
   * After an attempt whose outcome was never recorded (crash, lost lease): `accepted` when
   * this transport can prove it took the message, else `unknown` (held for reconciliation).
   */
  abstract lookup(messageId: string): Promise<'accepted' | 'unknown'>;
  async close(): Promise<void> {}
}
