import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { uuidV7 } from '../common/uuid-v7.util';
import type { JsonObject } from '../common/json';
import { logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { classifyOpen } from './hit-classifier.util';
import { HitBuffer, type HitBufferStats } from './hit-buffer';
import { anonymiseIp, hashIp } from './ip-anonymiser.util';
import { LruCache } from './lru-cache';
import { TokenThrottle } from './token-throttle';
import type { SiteHit, TrackingHit } from './tracking-hit';
import { type TrackingEventRow, TrackingRepository, type VisitorSeen } from './tracking.repository';

export interface RecorderStats extends HitBufferStats {
  throttled: number;
  /** Hits the database refused for good (a data or constraint error), dropped and logged. */
  refused: number;
}

/**
 * Tracking endpoints never wait for the database: hits go into a bounded buffer
 * written in batches (on size, on a timer, and on shutdown). A full buffer drops
 * hits, counted and logged, while the endpoints still answer. Each token is
 * recorded at most `recordLimitPerMinute` times a minute.
 */
@Injectable()
export class TrackingRecorder implements OnModuleDestroy {
  private readonly buffer: HitBuffer<TrackingHit>;
  private readonly throttle: TokenThrottle;
  /** Site events per visitor id, apart from the tokens' windows: a flood of new ids cannot evict those. */
  private readonly visitorThrottle: TokenThrottle;
  /** Site events per client address: visitor ids are the client's to choose. */
  private readonly clientThrottle: TokenThrottle;
  /** Send times (epoch ms) of messages opened lately: a message is sent once, so a known time never changes. */
  private readonly sentTimes = new LruCache<string, number>(100_000);
  private throttled = 0;
  private refused = 0;

  constructor(
    private readonly repository: TrackingRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const { bufferMax, bufferMaxBytes, flushIntervalMs, recordLimitPerMinute, siteLimitPerClientMinute } =
      config.tracking;
    this.throttle = new TokenThrottle({ limit: recordLimitPerMinute, windowMs: 60_000, maxKeys: 100_000 });
    this.visitorThrottle = new TokenThrottle({ limit: recordLimitPerMinute, windowMs: 60_000, maxKeys: 100_000 });
    this.clientThrottle = new TokenThrottle({ limit: siteLimitPerClientMinute, windowMs: 60_000, maxKeys: 100_000 });
    this.buffer = new HitBuffer<TrackingHit>({
      writer: (batch) => this.write(batch),
      maxItems: bufferMax,
      maxBytes: bufferMaxBytes,
      sizeOf: estimatedBytes,
      flushSize: 1_000,
      maxBatchSize: 1_000,
      flushIntervalMs,
      onDrop: (count, reason) => logger.warn({ count, reason, stats: this.buffer.stats() }, 'tracking hits dropped'),
      onWriteError: (error, size) => logger.error({ err: error, size }, 'tracking batch write failed; will retry'),
    });
  }

  /** Queues a hit unless its token is over the per-minute limit; never throws, never waits. */
  record(hit: TrackingHit, throttleKey: string): boolean {
    if (!this.throttle.allow(throttleKey, hit.at)) {
      this.throttled += 1;
      return false;
    }
    return this.buffer.push(hit);
  }

  /**
   * Queues a site event unless its client address or its visitor id is over the per-minute
   * limit; never throws, never waits.
   */
  recordSite(hit: SiteHit, clientAddress: string): boolean {
    if (!this.clientThrottle.allow(clientAddress, hit.at) || !this.visitorThrottle.allow(hit.visitorId, hit.at)) {
      this.throttled += 1;
      return false;
    }
    return this.buffer.push(hit);
  }

  /** True until shutdown begins; after that hits are still taken until the last batch is written. */
  get accepting(): boolean {
    return this.buffer.accepting;
  }

  /** A time-ordered key (UUID v7): the events' unique index takes it at its right edge. */
  newKey(): string {
    return uuidV7();
  }

  stats(): RecorderStats {
    return { ...this.buffer.stats(), throttled: this.throttled, refused: this.refused };
  }

  /** Writes everything buffered now (tests, shutdown). */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  async onModuleDestroy(): Promise<void> {
    await this.buffer.close();
    logger.info({ stats: this.stats() }, 'tracking buffer drained');
  }

  private storedIp(raw: string | null): string | null {
    if (raw === null) return null;
    const { ipMode, ipHashSecret, keys } = this.config.tracking;
    if (ipMode !== 'hash') return anonymiseIp(raw);
    // TRACKING_IP_HASH_SECRET keeps hashes comparable for good; without it the oldest tracking
    // key serves, which survives rotations until that key is removed from TRACKING_SECRET.
    return hashIp(raw, ipHashSecret ?? `ip:${keys.at(-1)?.secret ?? ''}`);
  }

  private async write(batch: TrackingHit[]): Promise<void> {
    const sentTimes = await this.sentTimesOf(batch);
    const events: TrackingEventRow[] = [];
    const visitors = new Map<string, VisitorSeen>();
    for (const hit of batch) {
      const ip = this.storedIp(hit.rawIp);
      switch (hit.kind) {
        case 'open': {
          // An open of a message that no longer exists is not recorded.
          if (!sentTimes.has(hit.messageId)) break;
          const sentAtMs = sentTimes.get(hit.messageId) ?? null;
          const secondsSinceSent = sentAtMs === null ? null : (hit.at.getTime() - sentAtMs) / 1000;
          const verdict = classifyOpen({
            method: hit.method,
            userAgent: hit.userAgent,
            ip: hit.rawIp,
            secondsSinceSent,
          });
          events.push({
            type: 'email.opened',
            occurredAtMs: hit.at.getTime(),
            messageId: hit.messageId,
            visitorId: null,
            key: hit.key,
            props: withClient(
              { messageId: hit.messageId, classification: verdict.kind, reason: verdict.reason },
              ip,
              hit.userAgent,
            ),
          });
          break;
        }
        case 'click':
          events.push({
            type: 'email.clicked',
            occurredAtMs: hit.at.getTime(),
            messageId: hit.messageId,
            visitorId: null,
            key: hit.key,
            props: withClient(
              {
                messageId: hit.messageId,
                linkIndex: hit.linkIndex,
                url: hit.url,
                classification: hit.classification,
                reason: hit.reason,
              },
              ip,
              hit.userAgent,
            ),
          });
          break;
        case 'site': {
          events.push({
            type: hit.type,
            occurredAtMs: hit.at.getTime(),
            messageId: null,
            visitorId: hit.visitorId,
            key: hit.key,
            props: withClient({ ...hit.props }, ip, hit.userAgent),
          });
          const seen = visitors.get(hit.visitorId);
          if (!seen) visitors.set(hit.visitorId, { id: hit.visitorId, firstSeenAt: hit.at, lastSeenAt: hit.at });
          else if (hit.at > seen.lastSeenAt) seen.lastSeenAt = hit.at;
          break;
        }
      }
    }
    await this.writeRows(events, visitors);
  }

  /**
   * Writes the rows in one statement. A row PostgreSQL will never take (SQLSTATE class 22,
   * data exception, or 23, constraint violation) would fail its whole batch on every retry
   * and hold back every hit behind it, so such a batch is written again row by row and the
   * refused rows are dropped, counted and logged. Any other failure (connection, timeout)
   * is thrown, and the buffer retries the batch; rows already written are skipped then by
   * their keys.
   */
  private async writeRows(events: TrackingEventRow[], visitors: Map<string, VisitorSeen>): Promise<void> {
    try {
      await this.repository.writeBatch(events, [...visitors.values()]);
      return;
    } catch (error: unknown) {
      if (!isRowError(error)) throw error;
      logger.warn({ err: error, size: events.length }, 'tracking batch refused by the database; writing it row by row');
    }
    for (const event of events) {
      const seen = event.visitorId === null ? undefined : visitors.get(event.visitorId);
      try {
        await this.repository.writeBatch([event], seen ? [seen] : []);
      } catch (error: unknown) {
        if (!isRowError(error)) throw error;
        this.refused += 1;
        logger.warn({ err: error, type: event.type, key: event.key }, 'tracking hit refused by the database; dropped');
      }
    }
  }

  /** Send times of the messages opened in the batch: from the cache, the rest in one query. */
  private async sentTimesOf(batch: TrackingHit[]): Promise<Map<string, number | null>> {
    const known = new Map<string, number | null>();
    const missing = new Set<string>();
    for (const hit of batch) {
      if (hit.kind !== 'open' || known.has(hit.messageId)) continue;
      const cached = this.sentTimes.get(hit.messageId);
      if (cached === undefined) missing.add(hit.messageId);
      else known.set(hit.messageId, cached);
    }
    if (missing.size === 0) return known;
    for (const [id, sentAtMs] of await this.repository.sentTimes([...missing])) {
      known.set(id, sentAtMs);
      // Not sent yet: looked up again next time, as it may be sent by then.
      if (sentAtMs !== null) this.sentTimes.set(id, sentAtMs);
    }
    return known;
  }
}

/** Stored user agents are cut to this many characters. */
const MAX_USER_AGENT = 300;

/** Adds the stored client fields that are known (absent rather than null) to an event's props. */
function withClient(props: JsonObject, ip: string | null, userAgent: string | null): JsonObject {
  if (ip !== null) props.ip = ip;
  if (userAgent !== null) props.userAgent = userAgent.slice(0, MAX_USER_AGENT);
  return props;
}

/** A data exception (22xxx) or constraint violation (23xxx): retrying the same row cannot succeed. */
function isRowError(error: unknown): boolean {
  const code = (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Roughly what a buffered hit holds in memory: its strings at two bytes a character, plus
 * a fixed allowance for the objects. Site events carry page text and props (up to ~15k
 * characters), so they are measured through their JSON; opens and clicks are small.
 */
export function estimatedBytes(hit: TrackingHit): number {
  const common = 400 + 2 * (hit.key.length + (hit.userAgent?.length ?? 0) + (hit.rawIp?.length ?? 0));
  switch (hit.kind) {
    case 'open':
      return common + 2 * (hit.messageId.length + hit.method.length);
    case 'click':
      return common + 2 * (hit.messageId.length + hit.url.length + hit.reason.length);
    case 'site':
      return common + 2 * (hit.visitorId.length + hit.type.length + JSON.stringify(hit.props).length);
  }
}
