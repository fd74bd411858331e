import sendgrid from '@sendgrid/mail';
import { listUnsubscribeHeaders, type OutgoingMail } from '../outgoing-mail';
import { classifyHttpStatus, parseRetryAfter, SendFailure } from '../retry-policy.util';
import { MailTransport, type TransportResult } from './mail-transport';

/** The part of @sendgrid/mail's MailService used here (its own client: no shared global state). */
interface SendGridService {
  setApiKey(key: string): void;
  setTimeout(ms: number): void;
  send(data: Record<string, unknown>): Promise<[{ statusCode: number; headers: Record<string, unknown> }, unknown]>;
  client: { setDefaultRequest(key: string, value: unknown): unknown };
}

interface SendGridError {
  code?: number | string;
  message?: string;
  response?: { headers?: Record<string, unknown> };
}

/** Custom arg carrying our message id on every provider event (never an address). */
export const SENDGRID_MESSAGE_ARG = 'tend_message_id';

/** SendGrid v3 mail send. The only custom arg is our message id. */
export class SendGridTransport extends MailTransport {
  readonly kind = 'sendgrid' as const;
  private readonly service: SendGridService;

  constructor(
    options: { apiKey: string; baseUrl?: string; timeoutMs?: number },
    private readonly now: () => Date,
  ) {
    super();
    const Service = (sendgrid as unknown as { MailService: new () => SendGridService }).MailService;
    this.service = new Service();
    this.service.setApiKey(options.apiKey);
    this.service.setTimeout(options.timeoutMs ?? 30_000);
    if (options.baseUrl) this.service.client.setDefaultRequest('baseUrl', options.baseUrl.replace(/\/+$/, ''));
  }

  override async send(mail: OutgoingMail): Promise<TransportResult> {
    try {
      const [response] = await this.service.send({
        to: mail.to,
        from: mail.from,
        subject: mail.subject,
        html: mail.html,
        text: mail.text,
        headers: listUnsubscribeHeaders(mail),
        customArgs: { [SENDGRID_MESSAGE_ARG]: mail.messageId },
      });
      const id = response.headers['x-message-id'];
      return { providerMessageId: typeof id === 'string' ? id : null };
    } catch (error) {
      throw this.classify(error);
    }
  }

  private classify(error: unknown): SendFailure {
    return classifySendgridError(error, this.now());
  }

  /** SendGrid has no lookup by our id at send time: unknown (reconcile from events by custom arg). */
  override lookup(): Promise<'unknown'> {
    return Promise.resolve('unknown');
  }
}

/**
 * Failures raised before a request could reach SendGrid: no connection, no name, no trusted
 * TLS. Nothing was sent, so they are retried; any other failure without an HTTP answer (a
 * timeout, a reset) may have come after SendGrid took the message, so it is unknown.
 */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** How long a 429 without a usable Retry-After pauses sending. */
const DEFAULT_RETRY_AFTER_MS = 60_000;

/** Maps a @sendgrid/mail error to retry / permanent / unknown (see SendFailureKind). */
export function classifySendgridError(error: unknown, now: Date): SendFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SendGridError;
  if (typeof e.code === 'number') {
    const kind = classifyHttpStatus(e.code);
    // A 429 always pauses the worker: for Retry-After, or a minute when SendGrid gives none.
    const retryAfter =
      e.code === 429
        ? (parseRetryAfter(e.response?.headers?.['retry-after'], now) ?? DEFAULT_RETRY_AFTER_MS)
        : undefined;
    return new SendFailure(kind, `sendgrid ${e.code}: ${e.message ?? ''}`.slice(0, 500), retryAfter);
  }
  const message = `sendgrid ${String(e.code ?? 'error')}: ${e.message ?? String(error)}`.slice(0, 500);
  return new SendFailure(typeof e.code === 'string' && NEVER_SENT.has(e.code) ? 'retry' : 'unknown', message);
}
