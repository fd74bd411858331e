import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type { AppConfig } from '../../../config/app-config';
import { buildMime } from '../mime-builder';
import type { OutgoingMail } from '../outgoing-mail';
import { SendFailure } from '../retry-policy.util';
import { MailTransport, type TransportResult } from './mail-transport';

/** SMTP stages before the message body: a failure there means the server never took it. */
const BEFORE_DATA = new Set([
  'CONN',
  'EHLO',
  'HELO',
  'LHLO',
  'STARTTLS',
  'AUTH PLAIN',
  'AUTH LOGIN',
  'MAIL FROM',
  'RCPT TO',
]);

interface SmtpError {
  message?: string;
  code?: string;
  command?: string;
  responseCode?: number;
  errno?: string | number;
}

/** Maps a nodemailer error to retry / permanent / unknown. */
export function classifySmtpError(error: unknown): SendFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SmtpError;
  const message = `smtp ${e.responseCode ?? e.code ?? 'error'}: ${e.message ?? String(error)}`.slice(0, 500);
  if (typeof e.responseCode === 'number') {
    return new SendFailure(e.responseCode >= 500 ? 'permanent' : 'retry', message);
  }
  if (e.code === 'ECONNECTION' || e.code === 'EDNS' || e.errno === 'ECONNREFUSED' || e.code === 'EAUTH')
    return new SendFailure('retry', message);
  if (e.command !== undefined && BEFORE_DATA.has(e.command)) return new SendFailure('retry', message);
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
        }
      : undefined;
    this.transporter = nodemailer.createTransport({
      url: options.url,
      pool: true,
      maxConnections: options.poolSize,
      maxMessages: Infinity,
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
