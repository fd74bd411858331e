import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../common/json';
import { logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { classifyOpen } from './hit-classifier.util';
import { HitBuffer, type HitBufferStats } from './hit-buffer';
import { anonymiseIp, hashIp } from './ip-anonymiser.util';
import { TokenThrottle } from './token-throttle';
import type { TrackingHit } from './tracking-hit';
import { type TrackingEventRow, TrackingRepository, type VisitorSeen } from './tracking.repository';

export interface RecorderStats extends HitBufferStats {
  throttled: number;
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
  private throttled = 0;

  constructor(
    private readonly repository: TrackingRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const { bufferMax, flushIntervalMs, recordLimitPerMinute } = config.tracking;
    this.throttle = new TokenThrottle({ limit: recordLimitPerMinute, windowMs: 60_000, maxKeys: 100_000 });
    this.buffer = new HitBuffer<TrackingHit>({
      writer: (batch) => this.write(batch),
      maxItems: bufferMax,
      flushSize: 2_000,
      maxBatchSize: 5_000,
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

  newKey(): string {
    return randomUUID();
  }

  stats(): RecorderStats {
    return { ...this.buffer.stats(), throttled: this.throttled };
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
    const { ipMode, keys } = this.config.tracking;
    // Hash mode uses a key derived from the oldest configured secret so hashes stay comparable across rotations.
    return ipMode === 'hash' ? hashIp(raw, `ip:${keys.at(-1)?.secret ?? ''}`) : anonymiseIp(raw);
  }

  private async write(batch: TrackingHit[]): Promise<void> {
    const openIds = [...new Set(batch.filter((h) => h.kind === 'open').map((h) => h.messageId))];
    const sentTimes = await this.repository.sentTimes(openIds);
    const events: TrackingEventRow[] = [];
    const visitors = new Map<string, VisitorSeen>();
    for (const hit of batch) {
      const ip = this.storedIp(hit.rawIp);
      switch (hit.kind) {
        case 'open': {
          if (!sentTimes.has(hit.messageId)) break;
          const sentAt = sentTimes.get(hit.messageId) ?? null;
          const secondsSinceSent = sentAt ? (hit.at.getTime() - sentAt.getTime()) / 1000 : null;
          const verdict = classifyOpen({
            method: hit.method,
            userAgent: hit.userAgent,
            ip: hit.rawIp,
            secondsSinceSent,
          });
          events.push({
            type: 'email.opened',
            occurredAt: hit.at,
            messageId: hit.messageId,
            visitorId: null,
            key: hit.key,
            props: withoutNulls({
              messageId: hit.messageId,
              classification: verdict.kind,
              reason: verdict.reason,
              ip,
              userAgent: truncate(hit.userAgent),
            }),
          });
          break;
        }
        case 'click':
          events.push({
            type: 'email.clicked',
            occurredAt: hit.at,
            messageId: hit.messageId,
            visitorId: null,
            key: hit.key,
            props: withoutNulls({
              messageId: hit.messageId,
              linkIndex: hit.linkIndex,
              url: hit.url,
              classification: hit.classification,
              reason: hit.reason,
              ip,
              userAgent: truncate(hit.userAgent),
            }),
          });
          break;
        case 'site': {
          events.push({
            type: hit.type,
            occurredAt: hit.at,
            messageId: null,
            visitorId: hit.visitorId,
            key: hit.key,
            props: { ...hit.props, ...withoutNulls({ ip, userAgent: truncate(hit.userAgent) }) },
          });
          const seen = visitors.get(hit.visitorId);
          if (!seen) visitors.set(hit.visitorId, { id: hit.visitorId, firstSeenAt: hit.at, lastSeenAt: hit.at });
          else if (hit.at > seen.lastSeenAt) seen.lastSeenAt = hit.at;
          break;
        }
      }
    }
    await this.repository.writeBatch(events, [...visitors.values()]);
  }
}

function truncate(text: string | null, max = 300): string | null {
  return text === null ? null : text.slice(0, max);
}

function withoutNulls(record: Record<string, string | number | boolean | null>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(record)) if (v !== null) out[k] = v;
  return out;
}
