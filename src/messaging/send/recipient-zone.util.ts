import type { AppConfig } from '../../config/app-config';
import { validTimeZone } from './send-window.util';

/** The recipient's time zone: the contact's, then the account's, then the configured default. */
export function resolveTimeZone(
  context: { contactTimeZone: string | null; accountTimeZone: string | null },
  config: Pick<AppConfig, 'defaults'>,
): string {
  return validTimeZone(context.contactTimeZone) ?? validTimeZone(context.accountTimeZone) ?? config.defaults.timeZone;
}
