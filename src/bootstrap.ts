import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Readable } from 'node:stream';
import { AppModule } from './app.module';
import type { CoreOptions } from './common/core.module';
import { API_KEY_REQUIRED, ApiKeyGuard } from './common/api-key.guard';
import { ErrorCode } from './common/domain-error';
import { DomainErrorFilter } from './common/domain-error.filter';
import { PinoNestLogger, logger } from './common/logger';

/** Route-level Fastify config read by the access log. */
interface AccessLogRouteConfig {
  accessLog?: 'info' | 'debug';
}

export const STREAMED_CONTENT_TYPES = ['text/csv', 'application/x-ndjson', 'application/ndjson'];

/** Builds the HTTP application (Fastify) around an already opened database. */
export async function createApp(options: CoreOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: options.config.http.jsonBodyLimitBytes,
    // Who may set X-Forwarded-For (the stored, truncated IP and the Apple-proxy rule read it): TRUST_PROXY.
    trustProxy: options.config.http.trustProxy,
    // Reject deeply nested JSON before it reaches handlers.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    logger: new PinoNestLogger(),
    bufferLogs: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Bulk imports are streamed: the handler gets the raw body stream and bounds it itself. No
  // other route takes these types: they get a 415, as for any type Fastify does not parse.
  fastify.addContentTypeParser(STREAMED_CONTENT_TYPES, (request, payload: Readable, done) => {
    if (request.routeOptions.url?.endsWith('/import') === true) {
      done(null, payload);
      return;
    }
    const error = new Error(`Unsupported Media Type: ${request.headers['content-type'] ?? ''}; send application/json`);
    done(Object.assign(error, { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }), undefined);
  });
  // The admin API's key is checked before a body is read or parsed (up to 2 MiB of JSON, or a
  // streamed import): a caller without a key costs nothing. The guard on each controller
  // checks again.
  const keys = app.get(ApiKeyGuard);
  fastify.addHook('onRequest', (request, reply, done) => {
    if ((request.url === '/api' || request.url.startsWith('/api/')) && !keys.accepts(request)) {
      void reply.code(401).send({ error: ErrorCode.Unauthorized, message: API_KEY_REQUIRED });
      return;
    }
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    // Routes flagged `config: { accessLog: 'debug' }` (the open pixel and click redirect,
    // thousands a second) are logged at debug level only.
    const level = (request.routeOptions.config as AccessLogRouteConfig | undefined)?.accessLog ?? 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level](
        {
          method: request.method,
          route: request.routeOptions.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        'request',
      );
    }
    done();
  });
  app.useGlobalFilters(new DomainErrorFilter());
  await app.init();
  await fastify.ready();
  return app;
}
