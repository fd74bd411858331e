import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DomainError, ErrorCode } from './domain-error';
import { logger } from './logger';

const statusByCode: Record<ErrorCode, number> = {
  [ErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.Invalid]: HttpStatus.BAD_REQUEST,
  [ErrorCode.Conflict]: HttpStatus.CONFLICT,
  [ErrorCode.Unauthorized]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.PayloadTooLarge]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.UnsupportedMediaType]: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
};

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
}

function isFastifyError(error: unknown): error is FastifyLikeError {
  return (
    error instanceof Error &&
    typeof (error as FastifyLikeError).statusCode === 'number' &&
    typeof (error as FastifyLikeError).code === 'string' &&
    (error as FastifyLikeError).code!.startsWith('FST_')
  );
}

/** Maps domain errors, Nest HTTP errors and Fastify body errors to one JSON shape. */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof DomainError) {
      void reply.status(statusByCode[error.code]).send({
        error: error.code,
        message: error.message,
        ...(error.issues.length > 0 ? { issues: error.issues } : {}),
      });
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      void reply.status(status).send({ error: httpErrorName(status), message: error.message });
      return;
    }
    const pgCode = postgresErrorCode(error);
    if (pgCode !== undefined && TEXT_REJECTED_BY_POSTGRES.has(pgCode)) {
      // e.g. a NUL character in a string: PostgreSQL cannot store it in text or jsonb.
      void reply.status(400).send({
        error: ErrorCode.Invalid,
        message: 'A text value contains a character that cannot be stored (such as NUL, \\u0000)',
      });
      return;
    }
    if (isFastifyError(error) && error.statusCode! < 500) {
      void reply.status(error.statusCode!).send({ error: httpErrorName(error.statusCode!), message: error.message });
      return;
    }
    logger.error({ err: error }, 'unhandled error');
    void reply.status(500).send({ error: 'internal', message: 'Internal server error' });
  }
}

/** invalid byte sequence, untranslatable character, invalid text representation, invalid escape. */
const TEXT_REJECTED_BY_POSTGRES = new Set(['22021', '22P05', '22P02', '22025']);

function postgresErrorCode(error: unknown): string | undefined {
  const candidate = error as { driverError?: { code?: unknown }; code?: unknown };
  const code = candidate.driverError?.code ?? candidate.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function httpErrorName(status: number): string {
  switch (status) {
    case 400:
      return ErrorCode.Invalid;
    case 401:
      return ErrorCode.Unauthorized;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.NotFound;
    case 409:
      return ErrorCode.Conflict;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 415:
      return ErrorCode.UnsupportedMediaType;
    default:
      return status >= 500 ? 'internal' : 'http_error';
  }
}
