import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';
import { redactEmails } from './email';

const secretPaths = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.token',
];

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactEmails(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error)
    return { type: value.name, message: redactEmails(value.message), stack: value.stack && redactEmails(value.stack) };
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = scrub(v, depth + 1);
  return out;
}

/** JSON logs; email addresses are replaced and secret fields censored before writing. */
export function createLogger(
  options: { level?: string; pretty?: boolean } = {},
  destination?: pino.DestinationStream,
): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: secretPaths, censor: '[redacted]' },
    formatters: { log: (object) => scrub(object) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactEmails(a) : a)) as Parameters<typeof method>);
      },
    },
    ...(options.pretty && !destination ? { transport: { target: 'pino-pretty' } } : {}),
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/** Process-wide logger; `configureLogger` replaces it once config is loaded. */
export let logger: Logger = createLogger({ level: process.env.NODE_ENV === 'test' ? 'silent' : 'info' });

export function configureLogger(options: { level: string; pretty: boolean }): Logger {
  logger = createLogger(options);
  return logger;
}

/** Routes NestJS's own logging through pino. */
export class PinoNestLogger implements LoggerService {
  log(message: unknown, context?: string): void {
    logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    logger.trace({ context }, String(message));
  }
}
