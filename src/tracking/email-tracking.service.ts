import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { classifyClick, DEFAULT_HIT_CLASSIFIER_OPTIONS } from './hit-classifier.util';
import { LinkBurstTracker } from './link-burst.tracker';
import { LruCache } from './lru-cache';
import { TrackingRecorder } from './tracking-recorder.service';
import { TrackingTokenSigner } from './tracking-token.signer';
import { type StoredLink, TrackingRepository } from './tracking.repository';

/** Query parameter carrying the short-lived signed identity on links into the customer's site. */
export const IDENTITY_PARAM = 'tend_id';

/** What the open pixel and the click redirect read from a request. */
export interface EmailHitRequest {
  /** HTTP method as received (`GET` or `HEAD`). */
  method: string;
  userAgent: string | null;
  /** The client address as resolved under `TRUST_PROXY`; anonymised before anything is stored. */
  ip: string;
}

/**
 * How a click is answered:
 * - `redirect`: to the URL stored for the link (with the identity parameter for a human on a site origin);
 * - `not_found`: bad, foreign or expired token, or no such link; nothing recorded;
 * - `unavailable`: the link could not be looked up (database down); nothing recorded, the click may be retried.
 */
export type ClickOutcome = { kind: 'redirect'; location: string } | { kind: 'not_found' } | { kind: 'unavailable' };

const NOT_FOUND: ClickOutcome = { kind: 'not_found' };
const UNAVAILABLE: ClickOutcome = { kind: 'unavailable' };

/**
 * The open pixel and the click redirect, without HTTP: token check, classification
 * and recording. Nothing here waits for the database except the lookup of a click's
 * stored URL on a cache miss.
 */
@Injectable()
export class EmailTrackingService {
  private readonly links = new LruCache<string, StoredLink>(50_000);
  private readonly bursts = new LinkBurstTracker(DEFAULT_HIT_CLASSIFIER_OPTIONS.linkBurstWindowSeconds * 1000);

  constructor(
    private readonly signer: TrackingTokenSigner,
    private readonly recorder: TrackingRecorder,
    private readonly repository: TrackingRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** True until shutdown begins (see TrackingRecorder). */
  get accepting(): boolean {
    return this.recorder.accepting;
  }

  /**
   * Queues an open for a genuine open token (classified when the batch is written);
   * anything else is ignored. Never throws and never waits: the GIF is answered whatever happens here.
   */
  recordOpen(token: string, request: EmailHitRequest): void {
    try {
      const now = this.clock.now();
      const payload = this.signer.verifyKind(token, 'o', now);
      if (payload === null) return;
      this.recorder.record(
        {
          kind: 'open',
          key: this.recorder.newKey(),
          at: now,
          messageId: payload.m,
          method: request.method,
          userAgent: request.userAgent,
          rawIp: request.ip,
        },
        token,
      );
    } catch (error: unknown) {
      logger.error({ err: error }, 'open pixel hit not recorded');
    }
  }

  /** Classifies and records a click and says where to send it. Never rejects. */
  async click(token: string, request: EmailHitRequest): Promise<ClickOutcome> {
    const now = this.clock.now();
    const payload = this.signer.verifyKind(token, 'c', now);
    if (payload === null) return NOT_FOUND;
    let link: StoredLink | null;
    try {
      link = await this.lookup(payload.m, payload.l);
    } catch (error: unknown) {
      // The visitor gets a neutral "try again" page; the cause stays in the log.
      logger.error({ err: error, messageId: payload.m, linkIndex: payload.l }, 'click link lookup failed');
      return UNAVAILABLE;
    }
    if (link === null) return NOT_FOUND;
    const verdict = classifyClick({
      method: request.method,
      userAgent: request.userAgent,
      ip: request.ip,
      secondsSinceDelivered: link.sentAt ? (now.getTime() - link.sentAt.getTime()) / 1000 : null,
      distinctLinksHitRecently: this.bursts.hit(payload.m, payload.l, now),
      messageLinkCount: link.linkCount,
    });
    const location = toLocation(verdict.kind === 'human' ? this.withIdentity(link, now) : link.url);
    if (location === null) return NOT_FOUND;
    this.recorder.record(
      {
        kind: 'click',
        key: this.recorder.newKey(),
        at: now,
        messageId: payload.m,
        linkIndex: payload.l,
        url: link.url,
        userAgent: request.userAgent,
        rawIp: request.ip,
        classification: verdict.kind,
        reason: verdict.reason,
      },
      token,
    );
    return { kind: 'redirect', location };
  }

  /**
   * Links of a sent message no longer change, so they are cached; failures, misses and
   * links of a message not sent yet are not (its send time is still to come, and the
   * time-since-delivery rule needs it; a retried render may still rewrite its links).
   */
  private async lookup(messageId: string, linkIndex: number): Promise<StoredLink | null> {
    const cacheKey = `${messageId}:${linkIndex}`;
    const cached = this.links.get(cacheKey);
    if (cached) return cached;
    const link = await this.repository.findLink(messageId, linkIndex);
    if (link?.sentAt) this.links.set(cacheKey, link);
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

/**
 * The stored URL as a Location header value: serialized by the WHATWG URL parser, so
 * non-ASCII paths and queries are percent-encoded and hosts punycoded (a header may
 * carry neither raw). Null for a URL that does not parse, which cannot be followed anyway.
 */
function toLocation(url: string): string | null {
  try {
    return new URL(url).toString();
  } catch {
    return null;
  }
}
