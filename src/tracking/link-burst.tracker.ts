import { LruCache } from './lru-cache';

/**
 * Remembers, per message, which links were hit in the last few seconds, so a
 * scanner that opens every link of a message at once is recognised as a bot.
 * Memory is bounded by the number of messages it keeps.
 */
export class LinkBurstTracker {
  private readonly recent: LruCache<string, { link: number; atMs: number }[]>;

  constructor(
    private readonly windowMs: number,
    maxMessages = 50_000,
  ) {
    this.recent = new LruCache(maxMessages);
  }

  /** Records a hit and returns how many distinct links of the message were hit within the window, this one included. */
  hit(messageId: string, linkIndex: number, now: Date): number {
    const nowMs = now.getTime();
    const hits = (this.recent.get(messageId) ?? []).filter((h) => nowMs - h.atMs <= this.windowMs);
    hits.push({ link: linkIndex, atMs: nowMs });
    this.recent.set(messageId, hits.slice(-64));
    return new Set(hits.map((h) => h.link)).size;
  }
}
