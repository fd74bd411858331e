import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { Clock } from '../../common/clock';
import type { JsonObject } from '../../common/json';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { NewEventRow } from '../../events/events.repository';
import { MessageRenderer, type PolicyQuestion, type PolicyVerdict, RecipientPolicy } from '../messaging.contracts';
import { buildMessageIdHeader, type OutgoingMail } from './outgoing-mail';
import { resolveTimeZone } from './recipient-zone.util';
import { computeRetryDelay, SendFailure } from './retry-policy.util';
import { nextAllowedSendTime } from './send-window.util';
import { DEFAULT_SEND_WORKER_OPTIONS, SEND_WORKER_OPTIONS, type SendWorkerOptions } from './send.options';
import {
  IN_FLIGHT_REASON,
  type InFlightMark,
  type MessageChanges,
  type MessageRow,
  type RecipientContext,
  SendRepository,
  type SentRecord,
} from './send.repository';
import { GroupCommit } from '../../common/group-commit';
import { frequencyCapUntil } from './frequency-cap.util';
import { TokenBucket } from './token-bucket';
import { MailTransport } from './transports/mail-transport';

/** status_reason of a message handed to the transport whose outcome is not yet recorded. */
export const IN_FLIGHT = IN_FLIGHT_REASON;
const WEEK_MS = 7 * 24 * 60 * 60_000;

export interface RunSummary {
  reclaimed: number;
  claimed: number;
  sent: number;
  deferred: number;
  suppressed: number;
  dead: number;
  unknown: number;
  retried: number;
  /** Claimed messages left for their lease to expire (unexpected error, lost lease). */
  abandoned: number;
}

type Outcome = Exclude<keyof RunSummary, 'reclaimed' | 'claimed'>;
type Claimed = MessageRow & { leaseToken: string };

/** What a claimed batch needs, read once for the whole batch. */
interface BatchFacts {
  contexts: Map<string, RecipientContext>;
  /** Advertising send times, newest first; a send decided in this batch is added at once. */
  sentByContact: Map<string, Date[]>;
  sentByAccount: Map<string, Date[]>;
}

/**
 * Sends due messages. Claims a batch (FOR UPDATE SKIP LOCKED, leased), then per message
 * outside the claim: expiry, recipient policy, quiet hours, frequency caps, render,
 * transport; every write after the claim is fenced by the lease token.
 */
@Injectable()
export class SendWorker implements BeforeApplicationShutdown, OnApplicationShutdown {
  private running: Promise<RunSummary> | undefined;
  private stopping = false;
  private readonly bucket: TokenBucket;
  /** A 429's Retry-After pauses this worker's sends until then. */
  private pausedUntil = 0;
  private warnedIdle = false;
  private readonly options: SendWorkerOptions;
  /**
   * The three per-message statements of a send (policy check just before it, the in-flight
   * mark, the sent record) are group-committed: the lanes of a batch share round trips.
   */
  private readonly policyChecks: GroupCommit<PolicyQuestion, PolicyVerdict>;
  private readonly inFlightMarks: GroupCommit<InFlightMark & { now: Date }, boolean>;
  private readonly sentRecords: GroupCommit<SentRecord & { now: Date }, boolean>;

  constructor(
    private readonly repository: SendRepository,
    private readonly transport: MailTransport,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly renderer?: MessageRenderer,
    @Optional() private readonly policy?: RecipientPolicy,
    @Optional() @Inject(SEND_WORKER_OPTIONS) options?: Partial<SendWorkerOptions>,
  ) {
    this.options = { ...DEFAULT_SEND_WORKER_OPTIONS, ...options };
    this.bucket = new TokenBucket(config.mail.ratePerSecond);
    this.policyChecks = new GroupCommit((items) => this.policy!.checkMany(this.repository.manager, items));
    this.inFlightMarks = new GroupCommit((items) => this.repository.markInFlightMany(items, items[0]!.now));
    this.sentRecords = new GroupCommit((items) => this.repository.recordSentMany(items, items[0]!.now));
  }

  /**
   * Every second: runs batches back to back while they come back full (a backlog drains
   * at the speed of the transport, not one batch a tick), until the queue is short or
   * the application stops.
   */
  @Interval('mail-send', 1000)
  async tick(): Promise<void> {
    if (this.running || this.stopping) return;
    try {
      for (;;) {
        const summary = await this.runOnce(this.clock.now());
        if (this.stopping || summary.claimed < this.options.batchSize || this.now() < this.pausedUntil) break;
      }
    } catch (error) {
      logger.error({ err: error }, 'send worker run failed');
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  /** One pass: reclaim expired leases, claim a batch, process it. Tests call it directly. */
  async runOnce(now: Date): Promise<RunSummary> {
    const run = this.run(now);
    this.running = run;
    try {
      return await run;
    } finally {
      if (this.running === run) this.running = undefined;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // In-flight sends finish and record; unclaimed rows stay queued for the next worker.
    await this.running?.catch(() => undefined);
    await this.transport.close();
  }

  private async run(now: Date): Promise<RunSummary> {
    const summary: RunSummary = {
      reclaimed: 0,
      claimed: 0,
      sent: 0,
      deferred: 0,
      suppressed: 0,
      dead: 0,
      unknown: 0,
      retried: 0,
      abandoned: 0,
    };
    summary.reclaimed = await this.repository.reclaimExpired(now);
    if (!this.renderer || !this.policy) {
      if (!this.warnedIdle) logger.warn('send worker idle: no MessageRenderer or RecipientPolicy registered');
      this.warnedIdle = true;
      return summary;
    }
    if (now.getTime() < this.pausedUntil) return summary;
    const claimed = (await this.repository.claimDue(now, this.options.batchSize, this.options.leaseMs)) as Claimed[];
    summary.claimed = claimed.length;
    if (claimed.length === 0) return summary;
    const facts = await this.batchFacts(claimed, now);
    let next = 0;
    const lane = async () => {
      while (next < claimed.length) {
        const message = claimed[next++]!;
        summary[await this.process(message, now, facts)] += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, claimed.length) }, lane));
    if (summary.claimed > 0) logger.info({ ...summary, transport: this.transport.kind }, 'send worker run');
    return summary;
  }

  private async batchFacts(claimed: readonly Claimed[], now: Date): Promise<BatchFacts> {
    const contacts = claimed.map((m) => m.contactId);
    const contexts = await this.repository.recipientContexts(this.repository.manager, contacts);
    const advertising = claimed.filter((m) => m.kind === 'advertising');
    const history =
      advertising.length === 0
        ? { byContact: new Map<string, Date[]>(), byAccount: new Map<string, Date[]>() }
        : await this.repository.advertisingHistory(
            advertising.map((m) => m.contactId),
            advertising.map((m) => m.accountId),
            new Date(now.getTime() - WEEK_MS),
          );
    return { contexts, sentByContact: history.byContact, sentByAccount: history.byAccount };
  }

  private async process(message: Claimed, now: Date, facts: BatchFacts): Promise<Outcome> {
    try {
      return await this.decideAndSend(message, now, facts);
    } catch (error) {
      // Unexpected failure: the lease expires and the message is reclaimed (checked before any resend).
      logger.error({ err: error, messageId: message.id }, 'send failed unexpectedly; left to lease expiry');
      return 'abandoned';
    }
  }

  private async decideAndSend(message: Claimed, now: Date, facts: BatchFacts): Promise<Outcome> {
    if (message.expiresAt !== null && message.expiresAt.getTime() <= now.getTime()) {
      logger.warn({ messageId: message.id, expiresAt: message.expiresAt.toISOString() }, 'message expired unsent');
      return this.finish(message, now, 'dead', 'expired', 'email.dead');
    }
    if (message.statusReason === IN_FLIGHT) {
      // A previous attempt reached the transport and its outcome was never recorded.
      if ((await this.transport.lookup(message.id)) === 'accepted') return this.recordSent(message, now, null);
      logger.warn({ messageId: message.id }, 'previous attempt outcome unknown; held for reconciliation');
      return this.finish(message, now, 'unknown', 'outcome_unknown: previous attempt interrupted', null);
    }
    const context = facts.contexts.get(message.contactId);
    if (!context) return this.finish(message, now, 'dead', 'contact_missing', 'email.dead');
    const verdict = await this.policyChecks.submit({
      contactId: message.contactId,
      kind: message.kind,
      topic: message.topic,
    });
    if (!verdict.allowed) return this.finish(message, now, 'suppressed', verdict.reason, 'email.suppressed');

    const timeZone = resolveTimeZone(context, this.config);
    const window = { quietHours: this.config.mail.quietHours, businessDays: this.config.mail.businessDays };
    if (message.kind === 'advertising' || this.config.mail.quietHoursScope === 'all') {
      const allowedAt = nextAllowedSendTime(now, timeZone, window);
      if (allowedAt.getTime() > now.getTime()) return this.defer(message, now, allowedAt, 'quiet_hours');
    }
    let release: () => void = noop;
    if (message.kind === 'advertising') {
      const sentToContact = listIn(facts.sentByContact, message.contactId);
      const sentToAccount = listIn(facts.sentByAccount, message.accountId);
      const capUntil = frequencyCapUntil(sentToContact, sentToAccount, now, timeZone, this.config.mail.caps);
      if (capUntil) return this.defer(message, now, nextAllowedSendTime(capUntil, timeZone, window), 'frequency_cap');
      // Reserve the slot now (synchronously, before any await) so a second message of the
      // batch to the same contact or account sees it; released if this one is not sent.
      sentToContact.unshift(now);
      sentToAccount.unshift(now);
      release = once(() => {
        sentToContact.splice(sentToContact.indexOf(now), 1);
        sentToAccount.splice(sentToAccount.indexOf(now), 1);
      });
    }
    try {
      return await this.renderAndSend(message, now, context, timeZone, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  private async renderAndSend(
    message: Claimed,
    now: Date,
    context: RecipientContext,
    timeZone: string,
    release: () => void,
  ): Promise<Outcome> {
    const renderer = this.renderer!;

    // Tracking follows the contact's consent as it is now, not as it was at enqueue.
    const tracking = trackingFor(context.emailTracking ?? this.config.mail.trackingDefault);
    const rendered = await renderer.render({
      template: message.template,
      locale: message.locale,
      messageId: message.id,
      recipient: { ...context.recipient, timeZone },
      account: context.account,
      data: message.data,
      tracking,
    });
    const messageIdHeader = buildMessageIdHeader(message.id, this.config.mail.from);
    // Mark the attempt before handing it over: a crash after this point is never blindly resent.
    const prepared = await this.inFlightMarks.submit({
      message,
      subject: rendered.subject,
      locale: rendered.locale,
      messageIdHeader,
      transport: this.transport.kind,
      trackOpens: tracking.opens,
      trackClicks: tracking.clicks,
      links: rendered.links,
      now,
    });
    if (!prepared) return this.lostLease(message);
    const attempt = message.attempts + 1;
    const mail: OutgoingMail = {
      messageId: message.id,
      messageIdHeader,
      from: this.config.mail.from,
      to: context.recipient.email,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      date: now,
      unsubscribeUrl: rendered.unsubscribeUrl,
      unsubscribeMailto: this.config.mail.unsubscribeMailto,
      oneClick: rendered.kind === 'advertising',
    };
    await this.bucket.take();
    let providerMessageId: string | null;
    try {
      ({ providerMessageId } = await this.transport.send(mail));
    } catch (error) {
      release();
      return this.onFailure(message, now, attempt, error);
    }
    return this.recordSent(message, now, providerMessageId);
  }

  private async onFailure(message: Claimed, now: Date, attempt: number, error: unknown): Promise<Outcome> {
    const failure = error instanceof SendFailure ? error : new SendFailure('unknown', errorMessage(error));
    switch (failure.kind) {
      case 'permanent':
        return this.finish(message, now, 'dead', `rejected: ${failure.message}`, 'email.dead', attempt);
      case 'unknown':
        logger.warn({ messageId: message.id, reason: failure.message }, 'send outcome unknown');
        return this.finish(message, now, 'unknown', `outcome_unknown: ${failure.message}`, null, attempt);
      case 'retry': {
        if (failure.retryAfterMs !== undefined) {
          this.pausedUntil = Math.max(this.pausedUntil, now.getTime() + failure.retryAfterMs);
        }
        if (attempt >= this.options.backoff.maxAttempts) {
          const reason = `retries_exhausted: ${failure.message}`;
          return this.finish(message, now, 'dead', reason, 'email.dead', attempt);
        }
        const delay = computeRetryDelay(attempt, this.options.backoff, failure.retryAfterMs);
        const ok = await this.repository.fencedUpdate(message, {
          status: 'queued',
          dueAt: new Date(now.getTime() + delay),
          statusReason: `retry: ${failure.message}`,
          updatedAt: now,
        });
        return ok ? 'retried' : this.lostLease(message);
      }
    }
  }

  private async recordSent(message: Claimed, now: Date, providerMessageId: string | null): Promise<Outcome> {
    const event = this.event(message, now, 'email.sent', `${message.id}:email.sent`, {
      transport: this.transport.kind,
    });
    const ok = await this.sentRecords.submit({
      message,
      providerMessageId,
      eventKey: event.idempotencyKey,
      eventProps: event.props,
      now,
    });
    return ok ? 'sent' : this.lostLease(message);
  }

  private async defer(message: Claimed, now: Date, until: Date, reason: string): Promise<Outcome> {
    const ok = await this.repository.fencedUpdate(
      message,
      { status: 'queued', dueAt: until, statusReason: reason, updatedAt: now },
      {
        events: [
          this.event(message, now, 'email.deferred', `${message.id}:email.deferred:${until.toISOString()}`, {
            reason,
            until: until.toISOString(),
          }),
        ],
      },
    );
    return ok ? 'deferred' : this.lostLease(message);
  }

  private async finish(
    message: Claimed,
    now: Date,
    status: 'dead' | 'suppressed' | 'unknown',
    reason: string,
    eventType: 'email.dead' | 'email.suppressed' | null,
    attempt?: number,
  ): Promise<Outcome> {
    const changes: MessageChanges = { status, statusReason: reason.slice(0, 500), updatedAt: now };
    const key = `${message.id}:${eventType}${attempt === undefined ? '' : `:${attempt}`}`;
    const events = eventType ? [this.event(message, now, eventType, key, { reason: reason.slice(0, 200) })] : [];
    const ok = await this.repository.fencedUpdate(message, changes, { events });
    return ok ? status : this.lostLease(message);
  }

  private lostLease(message: Claimed): Outcome {
    logger.warn({ messageId: message.id }, 'lease lost: write rejected');
    return 'abandoned';
  }

  private event(message: Claimed, now: Date, type: string, key: string, props: JsonObject): NewEventRow {
    return {
      type,
      occurredAt: now,
      receivedAt: now,
      accountId: message.accountId,
      contactId: message.contactId,
      visitorId: null,
      source: 'system',
      idempotencyKey: key,
      props: { messageId: message.id, template: message.template, kind: message.kind, ...props },
    };
  }
}

/** Open pixel and click rewriting allowed by a contact's email tracking consent. */
export function trackingFor(level: 'full' | 'clicks' | 'none'): { opens: boolean; clicks: boolean } {
  return { opens: level === 'full', clicks: level !== 'none' };
}

function noop(): void {}

/** `fn` that runs at most once, however often it is called. */
function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function listIn(map: Map<string, Date[]>, key: string): Date[] {
  let list = map.get(key);
  if (!list) {
    list = [];
    map.set(key, list);
  }
  return list;
}

function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
