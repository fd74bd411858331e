import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DomainError, ErrorCode } from './domain-error';

export const API_KEY_HEADER = 'x-api-key';

/** Admin API: the key comes in `X-Api-Key` (or `Authorization: Bearer`); only hashes are held. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly hashes: Buffer[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.hashes = config.adminApiKeyHashes.map((h) => Buffer.from(h, 'hex'));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.accepts(context.switchToHttp().getRequest<FastifyRequest>())) return true;
    throw new DomainError(ErrorCode.Unauthorized, API_KEY_REQUIRED);
  }

  /** True when the request carries an accepted key (every hash compared, in constant time). */
  accepts(request: Pick<FastifyRequest, 'headers'>): boolean {
    const key = extractKey(request);
    if (key === undefined) return false;
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let ok = false;
    for (const hash of this.hashes) ok = timingSafeEqual(digest, hash) || ok;
    return ok;
  }
}

export const API_KEY_REQUIRED = `A valid API key is required in the ${API_KEY_HEADER} header`;

function extractKey(request: Pick<FastifyRequest, 'headers'>): string | undefined {
  const header = request.headers[API_KEY_HEADER];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  return undefined;
}
