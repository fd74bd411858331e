import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Clock } from '../common/clock';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { classifyClick, DEFAULT_HIT_CLASSIFIER_OPTIONS } from './hit-classifier.util';
import { LinkBurstTracker } from './link-burst.tracker';
import { LruCache } from './lru-cache';
import { NEUTRAL_PAGE_HTML, PIXEL_GIF } from './neutral-page';
import { TrackingRecorder } from './tracking-recorder.service';
import { TrackingTokenSigner } from './tracking-token.signer';
import { type StoredLink, TrackingRepository } from './tracking.repository';

/** Query parameter carrying the short-lived signed identity on links into the customer's site. */
export const IDENTITY_PARAM = 'tend_id';

/**
 * The open pixel and the click redirect. The pixel always answers a GIF; the
 * redirect goes only to the URL stored for that link when the message was rendered.
 */
@Controller('t')
export class EmailTrackingController {
  private readonly links = new LruCache<string, StoredLink>(50_000);
  private readonly bursts = new LinkBurstTracker(DEFAULT_HIT_CLASSIFIER_OPTIONS.linkBurstWindowSeconds * 1000);

  constructor(
    private readonly signer: TrackingTokenSigner,
    private readonly recorder: TrackingRecorder,
    private readonly repository: TrackingRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `GET|HEAD /t/o/<token>.gif` */
  @Get('o/:file')
  open(@Param('file') file: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    try {
      const now = this.clock.now();
      const token = file.endsWith('.gif') ? file.slice(0, -4) : file;
      const payload = this.signer.verifyKind(token, 'o', now);
      if (payload) {
        this.recorder.record(
          {
            kind: 'open',
            key: this.recorder.newKey(),
            at: now,
            messageId: payload.m,
            method: request.method,
            userAgent: request.headers['user-agent'] ?? null,
            rawIp: request.ip,
          },
          token,
        );
      }
    } finally {
      void reply
        .status(200)
        .headers({
          'content-type': 'image/gif',
          'cache-control': 'no-store, no-cache, must-revalidate, private',
          pragma: 'no-cache',
          'content-length': PIXEL_GIF.length,
        })
        .send(PIXEL_GIF);
    }
  }

  /** `GET|HEAD /t/c/<token>` */
  @Get('c/:token')
  async click(
    @Param('token') token: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const now = this.clock.now();
    const payload = this.signer.verifyKind(token, 'c', now);
    const link = payload ? await this.lookup(payload.m, payload.l) : null;
    if (!payload || !link) {
      void reply
        .status(404)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(NEUTRAL_PAGE_HTML);
      return;
    }
    const userAgent = request.headers['user-agent'] ?? null;
    const verdict = classifyClick({
      method: request.method,
      userAgent,
      ip: request.ip,
      secondsSinceDelivered: link.sentAt ? (now.getTime() - link.sentAt.getTime()) / 1000 : null,
      distinctLinksHitRecently: this.bursts.hit(payload.m, payload.l, now),
      messageLinkCount: link.linkCount,
    });
    this.recorder.record(
      {
        kind: 'click',
        key: this.recorder.newKey(),
        at: now,
        messageId: payload.m,
        linkIndex: payload.l,
        url: link.url,
        userAgent,
        rawIp: request.ip,
        classification: verdict.kind,
        reason: verdict.reason,
      },
      token,
    );
    const location = verdict.kind === 'human' ? this.withIdentity(link, now) : link.url;
    void reply
      .status(302)
      .header('location', location)
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .send();
  }

  private async lookup(messageId: string, linkIndex: number): Promise<StoredLink | null> {
    const cacheKey = `${messageId}:${linkIndex}`;
    const cached = this.links.get(cacheKey);
    if (cached) return cached;
    const link = await this.repository.findLink(messageId, linkIndex);
    if (link) this.links.set(cacheKey, link);
    return link;
  }

  /** Links into the customer's own site carry a short-lived signed identity for the site snippet. */
  private withIdentity(link: StoredLink, now: Date): string {
    let url: URL;
    try {
      url = new URL(link.url);
    } catch {
      return link.url;
    }
    if (!this.config.tracking.siteOrigins.includes(url.origin)) return link.url;
    url.searchParams.set(IDENTITY_PARAM, this.signer.signIdentity(link.contactId, now));
    return url.toString();
  }
}
