import { Body, Controller, Get, HttpCode, Inject, Options, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode } from '../common/domain-error';
import type { JsonObject } from '../common/json';
import { parseOrThrow } from '../common/zod-issues';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { buildDisclosure, renderDisclosureHtml } from './disclosure';
import { IdentityService } from './identity.service';
import { pageOnOrigin, storedPageUrl } from './site-props.util';
import { renderSnippet } from './site-snippet';
import { collectSchema, identifySchema } from './site-tracking.schemas';
import { TrackingRecorder } from './tracking-recorder.service';
import { TrackingTokenSigner } from './tracking-token.signer';

/**
 * The customer's site talks to these endpoints through the snippet: page views,
 * custom events and identify. Only the configured site origins may send.
 */
@Controller('t')
export class SiteTrackingController {
  private readonly snippet: string;

  constructor(
    private readonly recorder: TrackingRecorder,
    private readonly identity: IdentityService,
    private readonly signer: TrackingTokenSigner,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.snippet = renderSnippet({
      endpoint: config.http.publicBaseUrl,
      honorDoNotTrack: config.tracking.honorDoNotTrack,
    });
  }

  @Get('s.js')
  script(@Res() reply: FastifyReply): void {
    void reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(this.snippet);
  }

  @Options(['collect', 'identify'])
  preflight(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    const origin = this.allowedOrigin(request);
    if (origin) {
      void reply.headers({
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'content-type',
        'access-control-max-age': '86400',
        vary: 'Origin',
      });
    }
    void reply.status(origin ? 204 : 403).send();
  }

  @Post('collect')
  @HttpCode(204)
  collect(
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): void {
    this.guardOrigin(request, reply);
    const input = parseOrThrow(collectSchema, parseTextBody(body));
    if (this.optedOut(request)) return;
    const now = this.clock.now();
    const userAgent = request.headers['user-agent'] ?? null;
    // Every page is checked before any event is recorded: a 400 records nothing.
    const pages = input.e.map((event) => pageOnOrigin(event.url, this.config.tracking.siteOrigins));
    const offSite = pages.flatMap((page, index) =>
      page === null ? [{ path: `e.${index}.url`, message: 'must be on one of the configured site origins' }] : [],
    );
    if (offSite.length > 0) throw new DomainError(ErrorCode.Invalid, 'Page is not on a configured site', offSite);
    input.e.forEach((event, index) => {
      const page = pages[index]!;
      const props: JsonObject = { url: page.url, path: page.path };
      if (event.title !== undefined) props.title = event.title;
      const referrer = event.referrer ? storedPageUrl(event.referrer) : null;
      if (referrer !== null) props.referrer = referrer.url;
      if (event.props) props.props = event.props;
      this.recorder.recordSite(
        {
          kind: 'site',
          // The snippet's event id makes a retried beacon count once.
          key: `${input.v}:${event.id}`,
          at: now,
          visitorId: input.v,
          type: event.type === 'page_view' ? 'site.page_viewed' : `site.${event.type}`,
          rawIp: request.ip,
          userAgent,
          props,
        },
        request.ip,
      );
    });
  }

  @Post('identify')
  @HttpCode(204)
  async identify(
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    this.guardOrigin(request, reply);
    const input = parseOrThrow(identifySchema, parseTextBody(body));
    if (this.optedOut(request)) return;
    // Site events stay on the visitor and are attributed through its link when read, so page
    // views still in the buffer count for the contact too, whichever is written first.
    if ('t' in input) {
      const payload = this.signer.verifyKind(input.t, 'i', this.clock.now());
      // A bad or expired token changes nothing and says nothing.
      if (payload) await this.identity.identifyVerified(input.v, payload.c);
    } else {
      await this.identity.identifyByEmail(input.v, input.email);
    }
  }

  @Get('disclosure')
  disclosure(
    @Query('lang') lang: string | undefined,
    @Query('format') format: string | undefined,
    @Res() reply: FastifyReply,
  ): void {
    const language = lang === 'en' ? 'en' : 'ja';
    const text = buildDisclosure(language, this.config);
    if (format === 'json') {
      void reply.header('cache-control', 'public, max-age=3600').send(text);
      return;
    }
    void reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(renderDisclosureHtml(text, language));
  }

  private allowedOrigin(request: FastifyRequest): string | null {
    const origin = request.headers.origin;
    return typeof origin === 'string' && this.config.tracking.siteOrigins.includes(origin) ? origin : null;
  }

  /** Browsers send Origin on these cross-site POSTs; anything else is refused and nothing recorded. */
  private guardOrigin(request: FastifyRequest, reply: FastifyReply): void {
    const origin = this.allowedOrigin(request);
    if (!origin) throw new DomainError(ErrorCode.Forbidden, 'Origin is not a configured site');
    void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
  }

  private optedOut(request: FastifyRequest): boolean {
    if (!this.config.tracking.honorDoNotTrack) return false;
    return request.headers.dnt === '1' || request.headers['sec-gpc'] === '1';
  }
}

function parseTextBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new DomainError(ErrorCode.Invalid, 'Body is not JSON', [{ path: '(body)', message: 'must be JSON' }]);
  }
}
