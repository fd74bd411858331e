import type { JsonObject } from '../common/json';

/** A tracking request as held in memory until the next batch write. */
export type TrackingHit = EmailOpenHit | EmailClickHit | SiteHit;

export interface EmailOpenHit {
  kind: 'open';
  key: string;
  at: Date;
  messageId: string;
  method: string;
  userAgent: string | null;
  /** The client IP as received; anonymised before anything is written. Classification needs it (Apple proxy ranges). */
  rawIp: string | null;
}

export interface EmailClickHit {
  kind: 'click';
  key: string;
  at: Date;
  messageId: string;
  linkIndex: number;
  url: string;
  userAgent: string | null;
  rawIp: string | null;
  classification: 'human' | 'bot';
  reason: string;
}

export interface SiteHit {
  kind: 'site';
  key: string;
  at: Date;
  visitorId: string;
  /** Event type, e.g. `site.page_viewed`, `site.webinar_signup`. */
  type: string;
  rawIp: string | null;
  userAgent: string | null;
  props: JsonObject;
}
