import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DomainError } from '../../common/domain-error';
import { parseImportContentType } from './import-request.util';

/**
 * Answers 415 before the body is parsed when an import is not CSV or NDJSON:
 * without it a JSON body would reach Fastify's JSON parser first (and a body
 * that is not JSON would get that parser's 400 instead of this clear 415).
 */
@Injectable()
export class ImportContentTypeMiddleware implements NestMiddleware {
  use(request: IncomingMessage, response: ServerResponse, next: () => void): void {
    try {
      parseImportContentType(request.headers['content-type']);
    } catch (error: unknown) {
      if (!(error instanceof DomainError)) throw error;
      response.statusCode = 415;
      response.setHeader('content-type', 'application/json; charset=utf-8');
      response.end(JSON.stringify({ error: error.code, message: error.message }));
      return;
    }
    next();
  }
}
