/** One rendered message ready for a transport. Holds the address: never log it. */
export interface OutgoingMail {
  /** Our message id (UUID). */
  messageId: string;
  /** `<message id@sending domain>`. */
  messageIdHeader: string;
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  date: Date;
  /** HTTPS one-click unsubscribe URL. */
  unsubscribeUrl: string;
  unsubscribeMailto: string | undefined;
  /** Advertising mail: add `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. */
  oneClick: boolean;
}

/** The domain of the From address (`Tend <cs@acme.example>` -> `acme.example`). */
export function sendingDomain(from: string): string {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  const at = address.lastIndexOf('@');
  return at >= 0
    ? address
        .slice(at + 1)
        .trim()
        .toLowerCase()
    : 'localhost';
}

/** Deterministic RFC 5322 Message-ID: a message accepted before a crash can be found by it. */
export function buildMessageIdHeader(messageId: string, from: string): string {
  return `<${messageId}@${sendingDomain(from)}>`;
}

/** List-Unsubscribe and List-Unsubscribe-Post (RFC 8058) for a message. */
export function listUnsubscribeHeaders(mail: OutgoingMail): Record<string, string> {
  const targets = [`<${mail.unsubscribeUrl}>`];
  if (mail.unsubscribeMailto) targets.push(`<mailto:${mail.unsubscribeMailto}?subject=unsubscribe-${mail.messageId}>`);
  const headers: Record<string, string> = { 'List-Unsubscribe': targets.join(', ') };
  if (mail.oneClick) headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  return headers;
}
