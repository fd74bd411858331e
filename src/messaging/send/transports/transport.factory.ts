import type { Clock } from '../../../common/clock';
import type { AppConfig } from '../../../config/app-config';
import { type MailTransport } from './mail-transport';
import { OutboxTransport } from './outbox.transport';
import { SendGridTransport } from './sendgrid.transport';
import { SmtpTransport } from './smtp.transport';

/** The transport config.mail.transport names (config validation guarantees its settings). */
export function createMailTransport(config: AppConfig, clock: Clock): MailTransport {
  const mail = config.mail;
  switch (mail.transport) {
    case 'outbox':
      return new OutboxTransport(mail.outboxDir);
    case 'smtp':
      if (!mail.smtpUrl) throw new Error('SMTP_URL is required when MAIL_TRANSPORT=smtp');
      return new SmtpTransport({ url: mail.smtpUrl, poolSize: mail.smtpPoolSize, dkim: mail.dkim });
    case 'sendgrid':
      if (!mail.sendgridApiKey) throw new Error('SENDGRID_API_KEY is required when MAIL_TRANSPORT=sendgrid');
      return new SendGridTransport(
        { apiKey: mail.sendgridApiKey, ...(mail.sendgridApiBaseUrl ? { baseUrl: mail.sendgridApiBaseUrl } : {}) },
        () => clock.now(),
      );
  }
}
