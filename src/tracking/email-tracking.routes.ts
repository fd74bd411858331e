import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { compileProxyTrust, type ProxyTrust, resolveClientIp } from './client-ip.util';
import { type ClickOutcome, type EmailHitRequest, EmailTrackingService } from './email-tracking.service';
import { NEUTRAL_PAGE_HTML, PIXEL_GIF, UNAVAILABLE_PAGE_HTML } from './neutral-page';

export const OPEN_PIXEL_ROUTE = '/t/o/:file';
export const CLICK_ROUTE = '/t/c/:token';

const OPEN_PREFIX = '/t/o/';
const CLICK_PREFIX = '/t/c/';
/** What the front door takes: a plain token (no percent-encoding, at most the longest valid token). */
const OPEN_FILE = /^[A-Za-z0-9_-]{1,96}(\.gif)?$/;
const CLICK_TOKEN = /^[A-Za-z0-9_-]{1,96}$/;

/** Route config read by the access log in bootstrap: these hits are logged at debug level only. */
const QUIET_ACCESS_LOG = { accessLog: 'debug' } as const;

/** One answer, written the same way through Fastify and through the front door. */
interface Answer {
  status: number;
  headers: Readonly<Record<string, string | number>>;
  /** None for a redirect (and then no content type either). */
  body: Buffer | undefined;
}

const PIXEL_ANSWER: Answer = {
  status: 200,
  headers: {
    'content-type': 'image/gif',
    'cache-control': 'no-store, no-cache, must-revalidate, private',
    pragma: 'no-cache',
    'content-length': PIXEL_GIF.length,
  },
  body: PIXEL_GIF,
};

function page(status: number, html: string, extra: Record<string, string> = {}): Answer {
  const body = Buffer.from(html, 'utf8');
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': body.length,
      ...extra,
    },
    body,
  };
}

const NOT_FOUND_ANSWER = page(404, NEUTRAL_PAGE_HTML);
const UNAVAILABLE_ANSWER = page(503, UNAVAILABLE_PAGE_HTML, { 'retry-after': '60' });

function clickAnswer(outcome: ClickOutcome): Answer {
  switch (outcome.kind) {
    case 'redirect':
      return {
        status: 302,
        headers: {
          location: outcome.location,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
          'content-length': 0,
        },
        body: undefined,
      };
    case 'not_found':
      return NOT_FOUND_ANSWER;
    case 'unavailable':
      return UNAVAILABLE_ANSWER;
  }
}

/**
 * The open pixel (`GET|HEAD /t/o/<token>.gif`) and the click redirect
 * (`GET|HEAD /t/c/<token>`), the hottest paths of Tend. The pixel always answers
 * the GIF; the redirect goes only to the URL stored for that link when the message
 * was rendered.
 *
 * They are plain Fastify routes (registered in onModuleInit, i.e. during
 * app.init(), before fastify.ready()), so Nest's per-request pipeline (guards,
 * pipes, interceptors, parameter decorators) is skipped. On a real socket a front
 * door on the HTTP server answers the ordinary requests of these two routes (GET or
 * HEAD with a plain base64url token) before Fastify sees them: Fastify's request
 * lifecycle and the root hooks Nest adds to it (middie among them) cost about a
 * third of the CPU of a recorded pixel hit (bench/pixel.bench.ts). Both ways run the
 * same code and write the same answer (test/tracking.e2e-spec.ts compares them).
 * Anything unusual (percent-encoding, an over-long token, another method) and every
 * request once shutdown has begun go to the Fastify routes; `app.inject` tests use them
 * too. During shutdown they still answer the GIF or the redirect: a hit that arrives while
 * the buffer drains is written with it; one that arrives after the last write is answered
 * and counted as dropped (`closed`). `npm start` stops taking requests before the drain
 * begins (main.ts), so there only requests already accepted get that far.
 */
@Injectable()
export class EmailTrackingRoutes implements OnModuleInit {
  private readonly trust: ProxyTrust;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly tracking: EmailTrackingService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.trust = compileProxyTrust(config.http.trustProxy);
  }

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as { getInstance(): FastifyInstance } | undefined;
    if (adapter === undefined) return;
    const fastify = adapter.getInstance();
    fastify.get<{ Params: { file: string } }>(OPEN_PIXEL_ROUTE, { config: QUIET_ACCESS_LOG }, (request, reply) => {
      sendAnswer(reply, this.open(request.params.file, request.method, request.headers, request.socket.remoteAddress));
    });
    fastify.get<{ Params: { token: string } }>(CLICK_ROUTE, { config: QUIET_ACCESS_LOG }, async (request, reply) => {
      const answer = await this.click(
        request.params.token,
        request.method,
        request.headers,
        request.socket.remoteAddress,
      );
      sendAnswer(reply, answer);
    });
    this.installFrontDoor(fastify.server);
  }

  private open(file: string, method: string, headers: IncomingHttpHeaders, socketAddress: string | undefined): Answer {
    this.tracking.recordOpen(
      file.endsWith('.gif') ? file.slice(0, -4) : file,
      this.hitOf(method, headers, socketAddress),
    );
    return PIXEL_ANSWER;
  }

  private async click(
    token: string,
    method: string,
    headers: IncomingHttpHeaders,
    socketAddress: string | undefined,
  ): Promise<Answer> {
    try {
      return clickAnswer(await this.tracking.click(token, this.hitOf(method, headers, socketAddress)));
    } catch (error: unknown) {
      logger.error({ err: error }, 'click not handled');
      return UNAVAILABLE_ANSWER;
    }
  }

  private hitOf(method: string, headers: IncomingHttpHeaders, socketAddress: string | undefined): EmailHitRequest {
    return {
      method,
      userAgent: headers['user-agent'] ?? null,
      ip: resolveClientIp(socketAddress, headers['x-forwarded-for'], this.trust) ?? '',
    };
  }

  /**
   * Puts the front door before Fastify's request listener. Fastify attaches that
   * listener when it creates the server; if it is not there as expected, the routes
   * above simply serve everything.
   */
  private installFrontDoor(server: Server | undefined): void {
    const listeners = (server?.listeners('request') ?? []) as ((
      request: IncomingMessage,
      response: ServerResponse,
    ) => void)[];
    const [fastifyListener] = listeners;
    if (server === undefined || listeners.length !== 1 || fastifyListener === undefined) {
      logger.warn({ listeners: listeners.length }, 'tracking front door not installed; Fastify serves the pixel');
      return;
    }
    server.removeListener('request', fastifyListener);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      let handled: boolean;
      try {
        handled = this.frontDoor(request, response);
      } catch (error: unknown) {
        // Nothing written yet: Fastify answers instead. Never an exception out of a request listener.
        logger.error({ err: error }, 'tracking front door failed');
        handled = response.headersSent;
        if (handled) response.destroy();
      }
      if (!handled) fastifyListener.call(server, request, response);
    });
  }

  /** Answers an ordinary pixel or click request and returns true, or returns false to leave it to Fastify. */
  private frontDoor(request: IncomingMessage, response: ServerResponse): boolean {
    const { method, url } = request;
    if ((method !== 'GET' && method !== 'HEAD') || url === undefined || !this.tracking.accepting) return false;
    const isOpen = url.startsWith(OPEN_PREFIX);
    if (!isOpen && !url.startsWith(CLICK_PREFIX)) return false;
    const query = url.indexOf('?');
    const segment = url.slice(OPEN_PREFIX.length, query < 0 ? undefined : query);
    const startedAt = performance.now();
    if (isOpen) {
      if (!OPEN_FILE.test(segment)) return false;
      writeAnswer(response, this.open(segment, method, request.headers, request.socket.remoteAddress));
      logHit(method, OPEN_PIXEL_ROUTE, PIXEL_ANSWER.status, startedAt);
      return true;
    }
    if (!CLICK_TOKEN.test(segment)) return false;
    void this.click(segment, method, request.headers, request.socket.remoteAddress).then((answer) => {
      try {
        writeAnswer(response, answer);
        logHit(method, CLICK_ROUTE, answer.status, startedAt);
      } catch (error: unknown) {
        logger.error({ err: error }, 'click answer not written');
        response.destroy();
      }
    });
    return true;
  }
}

function sendAnswer(reply: FastifyReply, answer: Answer): void {
  void reply.code(answer.status).headers(answer.headers).send(answer.body);
}

function writeAnswer(response: ServerResponse, answer: Answer): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}

/** The access log line the Fastify routes would write (see bootstrap), at debug level. */
function logHit(method: string, route: string, status: number, startedAt: number): void {
  if (logger.isLevelEnabled('debug')) {
    logger.debug({ method, route, status, ms: Math.round(performance.now() - startedAt) }, 'request');
  }
}
