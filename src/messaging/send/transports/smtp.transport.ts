import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type { AppConfig } from '../../../config/app-config';
import { buildMime } from '../mime-builder';
import type { OutgoingMail } from '../outgoing-mail';
import { SendFailure } from '../retry-policy.util';
import { MailTransport, type TransportResult } from './mail-transport';

/**
 * SMTP stages before the message body: a failure there means the server never took it.
 * Not `CONN`: nodemailer also names a connection lost after DATA that way.
 */
const BEFORE_DATA = new Set(['EHLO', 'HELO', 'LHLO', 'STARTTLS', 'AUTH PLAIN', 'AUTH LOGIN', 'MAIL FROM', 'RCPT TO']);

interface SmtpError {
  message?: string;
  code?: string;
  command?: string;
  responseCode?: number;
  errno?: string | number;
}

/** nodemailer's messages for failures that happen before any session exists. */
const NEVER_CONNECTED = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|Connection timeout|Greeting never received/i;

/**
 * Maps a nodemailer error to retry / permanent / unknown. A reply code decides (4xx retry,
 * 5xx permanent). Without one: a failure before any session (refused, DNS, connect or
 * greeting timeout, authentication) is retried; a failure at a named stage before DATA is
 * retried; anything else (a dropped connection, a socket timeout) is unknown: nodemailer
 * reports a connection lost after the body went out exactly like one lost at MAIL FROM,
 * and the server may have taken the message, so it must not be blindly sent again.
 */
export function classifySmtpError(error: unknown): SendFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SmtpError;
  const message = `smtp ${e.responseCode ?? e.code ?? 'error'}: ${e.message ?? String(error)}`.slice(0, 500);
  if (typeof e.responseCode === 'number') {
    return new SendFailure(e.responseCode >= 500 ? 'permanent' : 'retry', message);
  }
  const refused = e.errno === 'ECONNREFUSED' || e.errno === -111 || NEVER_CONNECTED.test(e.message ?? '');
  if (refused || e.code === 'EDNS' || e.code === 'EAUTH') return new SendFailure('retry', message);
  if (e.command !== undefined && BEFORE_DATA.has(e.command)) {
    return new SendFailure('retry', message);
  }
  return new SendFailure('unknown', message);
}

/** Pooled SMTP (nodemailer): the MIME is built once here and sent raw; DKIM-signed when configured. */
export class SmtpTransport extends MailTransport {
  readonly kind = 'smtp' as const;
  private readonly transporter: Transporter;

  constructor(options: { url: string; poolSize: number; dkim?: AppConfig['mail']['dkim'] }) {
    super();
    const dkim = options.dkim
      ? {
          domainName: options.dkim.domain,
          keySelector: options.dkim.selector,
          privateKey: readFileSync(options.dkim.privateKeyFile, 'utf8'),
          // RFC 8058: one-click unsubscribe counts only when both List-Unsubscribe headers are signed.
          headerFieldNames:
            'From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:Content-Type:' +
            'Content-Transfer-Encoding:List-Unsubscribe:List-Unsubscribe-Post',
        }
      : undefined;
    this.transporter = nodemailer.createTransport({
      url: options.url,
      pool: true,
      maxConnections: options.poolSize,
      maxMessages: Infinity,
      // A server that goes silent must not hold a send for nodemailer's default 10 minutes.
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: 60_000,
      ...(dkim ? { dkim } : {}),
    } as SMTPPool.Options);
  }

  override async send(mail: OutgoingMail): Promise<TransportResult> {
    const raw = buildMime(mail);
    try {
      const info = (await this.transporter.sendMail({
        envelope: { from: envelopeAddress(mail.from), to: [mail.to] },
        raw,
      })) as { response?: string };
      return { providerMessageId: info.response?.slice(0, 200) ?? null };
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  /** SMTP cannot ask the server whether it took a message: always unknown. */
  override lookup(): Promise<'unknown'> {
    return Promise.resolve('unknown');
  }

  override close(): Promise<void> {
    this.transporter.close();
    return Promise.resolve();
  }
}

function envelopeAddress(from: string): string {
  return /<([^>]+)>/.exec(from)?.[1] ?? from;
}
