import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { Clock } from '../../common/clock';
import type { JsonObject } from '../../common/json';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { NewEventRow } from '../../events/events.repository';
import { MessageRenderer, RecipientPolicy } from '../messaging.contracts';
import { buildMessageIdHeader, type OutgoingMail } from './outgoing-mail';
import { resolveTimeZone } from './recipient-zone.util';
import { computeRetryDelay, SendFailure } from './retry-policy.util';
import { nextAllowedSendTime } from './send-window.util';
import { DEFAULT_SEND_WORKER_OPTIONS, SEND_WORKER_OPTIONS, type SendWorkerOptions } from './send.options';
import { IN_FLIGHT_REASON, type MessageChanges, type MessageRow, SendRepository } from './send.repository';
import type { RecipientContext } from '../recipient-context.query';
import { frequencyCapUntil } from './frequency-cap.util';
import { LeaseKeeper } from './lease-keeper';
import { TokenBucket } from './token-bucket';
import { MailTransport } from './transports/mail-transport';

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

/** A batch holds its messages for at most this many leases (an hour with 5-minute leases). */
const MAX_HOLD_LEASES = 12;

/** Held advertising mail is looked at again this often (a release makes it due at once). */
const HOLD_RECHECK_MS = 3_600_000;

/** A message cleared to go: recipient, zone and the release of its cap reservation. */
interface Ready {
  message: Claimed;
  context: RecipientContext;
  timeZone: string;
  release: () => void;
}

/** A rendered message ready for the transport. */
interface Prepared {
  message: Claimed;
  release: () => void;
  timeZone: string;
  tracking: { opens: boolean; clicks: boolean };
  locale: 'ja' | 'en';
  links: string[];
  mail: OutgoingMail;
}

/** What a claimed batch needs, read once for the whole batch. */
interface BatchFacts {
  contexts: Map<string, RecipientContext>;
  /** Advertising send times, newest first; a send decided in this batch is added at once. */
  sentByContact: Map<string, Date[]>;
  sentByAccount: Map<string, Date[]>;
  /** Advertising messages whose account's automated mail is on hold (a handoff, a CSM's pause). */
  held: Map<string, { reason: 'tech_touch_paused' | 'handoff_hold'; pausedUntil: Date | null }>;
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
    const claimed = await this.withCurrentTraits(
      (await this.repository.claimDue(now, this.options.batchSize, this.options.leaseMs)) as Claimed[],
    );
    summary.claimed = claimed.length;
    if (claimed.length === 0) return summary;
    // Leases are extended while the batch is worked on; a message is sent only while its lease holds.
    const leases = new LeaseKeeper(
      this.repository,
      () => this.now(),
      this.options.leaseMs,
      Math.min(30_000, this.options.leaseMs / 10),
      claimed,
      now.getTime(),
      MAX_HOLD_LEASES * this.options.leaseMs,
    );
    leases.start(this.options.leaseRenewMs ?? this.options.leaseMs / 3);
    try {
      await this.processBatch(claimed, now, leases, summary);
    } finally {
      await leases.stop();
    }
    if (summary.claimed > 0) logger.info({ ...summary, transport: this.transport.kind }, 'send worker run');
    return summary;
  }

  private async processBatch(claimed: Claimed[], now: Date, leases: LeaseKeeper, summary: RunSummary): Promise<void> {
    const facts = await this.batchFacts(claimed, now);
    // Chunks of the batch go through their phases together (one policy query, one in-flight
    // mark, one sent record per chunk); `concurrency` chunks are in flight at once so the
    // transport stays busy while the next chunk is checked and rendered.
    const chunks: Claimed[][] = [];
    for (let i = 0; i < claimed.length; i += this.options.chunkSize) {
      chunks.push(claimed.slice(i, i + this.options.chunkSize));
    }
    let next = 0;
    const lane = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        const outcomes = await this.processChunk(chunk, now, facts, leases);
        for (const [i, outcome] of outcomes.entries()) {
          summary[outcome] += 1;
          leases.done(chunk[i]!.id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, chunks.length) }, lane));
  }

  /**
   * A template's kind and topic decide how its mail is treated: consent, caps, quiet hours,
   * the preference topic. They were read when the message was queued, which may be days
   * before it is sent; a template changed since (an operational notice that became
   * advertising) is treated as what it is now, and the message row is updated to match.
   */
  private async withCurrentTraits(claimed: Claimed[]): Promise<Claimed[]> {
    const changed: Claimed[] = [];
    const current = claimed.map((m) => {
      const traits = this.renderer!.describe(m.template, m.locale);
      if (!traits || (traits.kind === m.kind && traits.topic === m.topic)) return m;
      const updated = { ...m, kind: traits.kind, topic: traits.topic };
      changed.push(updated);
      return updated;
    });
    if (changed.length > 0) {
      logger.info(
        { messages: changed.map((m) => m.id).slice(0, 20), count: changed.length },
        'template kind or topic changed since these messages were queued; the current ones apply',
      );
      await this.repository.updateTraits(changed);
    }
    return current;
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
    const held = await this.repository.heldMessages(
      advertising.map((m) => m.id),
      now,
    );
    return { contexts, sentByContact: history.byContact, sentByAccount: history.byAccount, held };
  }

  /** One chunk through its phases; a message whose outcome was never decided counts as abandoned. */
  private async processChunk(chunk: Claimed[], now: Date, facts: BatchFacts, leases: LeaseKeeper): Promise<Outcome[]> {
    const outcomes = new Map<string, Outcome>();
    try {
      await this.sendChunk(chunk, now, facts, leases, outcomes);
    } catch (error) {
      // Unexpected failure: the leases expire and the messages are reclaimed (an in-flight
      // one is checked with the transport before anything is sent again).
      logger.error({ err: error, messages: chunk.length }, 'send failed unexpectedly; left to lease expiry');
    }
    return chunk.map((m) => outcomes.get(m.id) ?? 'abandoned');
  }

  /**
   * Decide (expiry, interrupted attempt, recipient policy, quiet hours, caps), render,
   * mark in flight, hand to the transport, record. Every write is fenced by the lease.
   */
  private async sendChunk(
    chunk: Claimed[],
    now: Date,
    facts: BatchFacts,
    leases: LeaseKeeper,
    outcomes: Map<string, Outcome>,
  ): Promise<void> {
    const candidates: { message: Claimed; context: RecipientContext }[] = [];
    for (const message of chunk) {
      const early = await this.settleEarly(message, now, facts);
      const hold = early ? undefined : facts.held.get(message.id);
      if (early) outcomes.set(message.id, early);
      else if (hold) {
        // A person is talking to this customer (or paused tech-touch): the mail waits, and is
        // released at once when the handoff is resolved or the pause lifted; re-checked hourly.
        const recheck = new Date(now.getTime() + HOLD_RECHECK_MS);
        const until = hold.pausedUntil !== null && hold.pausedUntil < recheck ? hold.pausedUntil : recheck;
        outcomes.set(message.id, await this.defer(message, now, until, hold.reason));
      } else candidates.push({ message, context: facts.contexts.get(message.contactId)! });
    }
    if (candidates.length === 0) return;
    if (this.now() < this.pausedUntil) {
      // The provider asked us to slow down while this batch ran: wait, do not hammer it.
      for (const { message } of candidates) {
        outcomes.set(message.id, await this.defer(message, now, new Date(this.pausedUntil), 'provider_rate_limit'));
      }
      return;
    }
    const verdicts = await this.policy!.checkMany(
      this.repository.manager,
      candidates.map(({ message }) => ({ contactId: message.contactId, kind: message.kind, topic: message.topic })),
    );
    const ready: Ready[] = [];
    for (const [i, { message, context }] of candidates.entries()) {
      const verdict = verdicts[i]!;
      if (!verdict.allowed) {
        outcomes.set(message.id, await this.finish(message, now, 'suppressed', verdict.reason, 'email.suppressed'));
        continue;
      }
      const decision = this.checkWindowAndCaps(message, context, now, facts);
      if ('deferUntil' in decision) {
        outcomes.set(message.id, await this.defer(message, now, decision.deferUntil, decision.reason));
      } else {
        ready.push({ message, context, ...decision });
      }
    }
    const prepared: Prepared[] = [];
    for (const r of ready) {
      try {
        prepared.push(await this.prepare(r, now));
      } catch (error) {
        // A message that cannot be rendered (its template gone, a helper failing on its data)
        // would fail the same way at every retry: it ends as dead, with the reason on the row.
        r.release();
        const reason = `render_failed: ${error instanceof Error ? error.message : String(error)}`;
        logger.error({ err: error, messageId: r.message.id }, 'render failed; message is dead');
        outcomes.set(r.message.id, await this.finish(r.message, now, 'dead', reason, 'email.dead'));
      }
    }
    if (prepared.length === 0) return;
    const toSend = await this.markInFlight(prepared, now, outcomes);
    const results = await Promise.all(
      toSend.map(async (p) => {
        await this.bucket.take();
        // Past its lease (renewals failed), the message may already be another worker's.
        if (!leases.holds(p.message.id)) return { p, unsent: 'lease' as const };
        // A 429 answered another send of this worker while this one waited for its turn.
        if (this.now() < this.pausedUntil) return { p, unsent: 'paused' as const };
        try {
          return { p, providerMessageId: (await this.transport.send(p.mail)).providerMessageId };
        } catch (error) {
          // Paused at once, so the sends of this chunk still waiting for their turn do not go.
          if (error instanceof SendFailure && error.retryAfterMs !== undefined) {
            this.pausedUntil = Math.max(this.pausedUntil, this.now() + error.retryAfterMs);
          }
          return { p, error };
        }
      }),
    );
    const accepted = results.filter(
      (r): r is { p: Prepared; providerMessageId: string | null } => 'providerMessageId' in r,
    );
    const recorded = await this.recordSent(accepted, now);
    accepted.forEach((r, i) => outcomes.set(r.p.message.id, recorded[i] ? 'sent' : this.lostLease(r.p.message)));
    for (const r of results) {
      if ('providerMessageId' in r) continue;
      r.p.release();
      outcomes.set(
        r.p.message.id,
        'error' in r
          ? await this.onFailure(r.p.message, now, r.p.message.attempts + 1, r.error)
          : r.unsent === 'paused'
            ? await this.defer(r.p.message, now, new Date(this.pausedUntil), 'provider_rate_limit', true)
            : await this.unsent(r.p.message, now),
      );
    }
  }

  /**
   * A message marked in flight but never handed over (its lease ran out first): back to the
   * queue without the in-flight mark, if the lease is still this worker's. Otherwise the worker
   * that reclaimed it finds the mark and checks with the transport before sending.
   */
  private async unsent(message: Claimed, now: Date): Promise<Outcome> {
    logger.warn({ messageId: message.id }, 'lease ran out before the send; not sent');
    const ok = await this.repository.fencedUpdate(message, {
      status: 'queued',
      dueAt: now,
      statusReason: null,
      attempts: message.attempts,
      updatedAt: now,
    });
    return ok ? 'retried' : this.lostLease(message);
  }

  /**
   * Marks the attempts in flight before they are handed over: after this, a crash never leads
   * to a blind resend. Advertising mail is marked only after its caps are checked again under
   * the caps lock of its accounts, against what every instance has sent, has in flight or
   * holds as unknown: the check at the start of the batch saw only this worker's own
   * decisions, so two instances could both take a contact's last slot. Returns the messages
   * cleared to go; the others have their outcome.
   */
  private async markInFlight(prepared: Prepared[], now: Date, outcomes: Map<string, Outcome>): Promise<Prepared[]> {
    const marks = (list: Prepared[]) =>
      list.map((p) => ({
        message: p.message,
        recipient: p.mail.to,
        subject: p.mail.subject,
        locale: p.locale,
        messageIdHeader: p.mail.messageIdHeader,
        transport: this.transport.kind,
        trackOpens: p.tracking.opens,
        trackClicks: p.tracking.clicks,
        links: p.links,
      }));
    const advertising = prepared.filter((p) => p.message.kind === 'advertising');
    let cleared = prepared;
    const capped: { p: Prepared; until: Date }[] = [];
    let marked: boolean[];
    if (advertising.length === 0) marked = await this.repository.markInFlightMany(marks(prepared), now);
    else {
      marked = await this.repository.withCapsLock(
        advertising.map((p) => p.message.accountId),
        async (manager) => {
          const history = await this.repository.advertisingHistory(
            advertising.map((p) => p.message.contactId),
            advertising.map((p) => p.message.accountId),
            new Date(now.getTime() - WEEK_MS),
            manager,
          );
          cleared = prepared.filter((p) => {
            if (p.message.kind !== 'advertising') return true;
            const toContact = listIn(history.byContact, p.message.contactId);
            const toAccount = listIn(history.byAccount, p.message.accountId);
            const until = frequencyCapUntil(toContact, toAccount, now, p.timeZone, this.config.mail.caps);
            if (until) {
              capped.push({ p, until: nextAllowedSendTime(until, p.timeZone, this.sendWindow()) });
              return false;
            }
            toContact.unshift(now);
            toAccount.unshift(now);
            return true;
          });
          return this.repository.markInFlightMany(marks(cleared), now, manager);
        },
      );
    }
    for (const { p, until } of capped) {
      p.release();
      outcomes.set(p.message.id, await this.defer(p.message, now, until, 'frequency_cap'));
    }
    return cleared.filter((p, i) => {
      if (marked[i]) return true;
      p.release();
      outcomes.set(p.message.id, this.lostLease(p.message));
      return false;
    });
  }

  private sendWindow(): {
    quietHours: AppConfig['mail']['quietHours'];
    businessDays: AppConfig['mail']['businessDays'];
  } {
    return { quietHours: this.config.mail.quietHours, businessDays: this.config.mail.businessDays };
  }

  /** Outcomes decided before the policy check: expired, interrupted attempt, contact gone. */
  private async settleEarly(message: Claimed, now: Date, facts: BatchFacts): Promise<Outcome | undefined> {
    if (message.expiresAt !== null && message.expiresAt.getTime() <= now.getTime()) {
      logger.warn({ messageId: message.id, expiresAt: message.expiresAt.toISOString() }, 'message expired unsent');
      return this.finish(message, now, 'dead', 'expired', 'email.dead');
    }
    if (message.statusReason === IN_FLIGHT_REASON) {
      // A previous attempt reached the transport and its outcome was never recorded.
      if ((await this.transport.lookup(message.id)) === 'accepted') {
        const [ok] = await this.recordSent([{ p: { message }, providerMessageId: null }], now);
        return ok ? 'sent' : this.lostLease(message);
      }
      if (message.kind === 'operational') {
        // At-least-once for operational mail: sent again (same Message-ID, so clients can dedupe).
        logger.warn({ messageId: message.id }, 'previous attempt outcome unknown; operational mail sent again');
        return facts.contexts.has(message.contactId)
          ? undefined
          : this.finish(message, now, 'dead', 'contact_missing', 'email.dead');
      }
      logger.warn({ messageId: message.id }, 'previous attempt outcome unknown; held for reconciliation');
      return this.finish(message, now, 'unknown', 'outcome_unknown: previous attempt interrupted', null);
    }
    if (!facts.contexts.has(message.contactId))
      return this.finish(message, now, 'dead', 'contact_missing', 'email.dead');
    return undefined;
  }

  /** Quiet hours and frequency caps in the recipient's zone; a send it allows is reserved against the caps. */
  private checkWindowAndCaps(
    message: Claimed,
    context: RecipientContext,
    now: Date,
    facts: BatchFacts,
  ): { deferUntil: Date; reason: string } | { timeZone: string; release: () => void } {
    const timeZone = resolveTimeZone(context, this.config);
    const window = this.sendWindow();
    if (message.kind === 'advertising' || this.config.mail.quietHoursScope === 'all') {
      const allowedAt = nextAllowedSendTime(now, timeZone, window);
      if (allowedAt.getTime() > now.getTime()) return { deferUntil: allowedAt, reason: 'quiet_hours' };
    }
    if (message.kind !== 'advertising') return { timeZone, release: noop };
    const sentToContact = listIn(facts.sentByContact, message.contactId);
    const sentToAccount = listIn(facts.sentByAccount, message.accountId);
    const capUntil = frequencyCapUntil(sentToContact, sentToAccount, now, timeZone, this.config.mail.caps);
    if (capUntil) return { deferUntil: nextAllowedSendTime(capUntil, timeZone, window), reason: 'frequency_cap' };
    // Reserve the slot now (synchronously) so a later message of the batch to the same
    // contact or account sees it; released if this one is not sent.
    sentToContact.unshift(now);
    sentToAccount.unshift(now);
    return {
      timeZone,
      release: once(() => {
        sentToContact.splice(sentToContact.indexOf(now), 1);
        sentToAccount.splice(sentToAccount.indexOf(now), 1);
      }),
    };
  }

  /** Renders the message for its recipient now (tracking per the contact's consent as it is now). */
  private async prepare(r: Ready, now: Date): Promise<Prepared> {
    const { message, context, timeZone } = r;
    const tracking = trackingFor(context.emailTracking ?? this.config.mail.trackingDefault);
    const rendered = await this.renderer!.render({
      template: message.template,
      locale: message.locale,
      messageId: message.id,
      recipient: { ...context.recipient, timeZone },
      account: context.account,
      data: message.data,
      tracking,
    });
    return {
      message,
      release: r.release,
      timeZone,
      tracking,
      locale: rendered.locale,
      links: rendered.links,
      mail: {
        messageId: message.id,
        messageIdHeader: buildMessageIdHeader(message.id, this.config.mail.from),
        from: this.config.mail.from,
        to: context.recipient.email,
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        date: now,
        unsubscribeUrl: rendered.unsubscribeUrl,
        unsubscribeMailto: this.config.mail.unsubscribeMailto,
        oneClick: rendered.kind === 'advertising',
      },
    };
  }

  private recordSent(
    accepted: readonly { p: { message: Claimed }; providerMessageId: string | null }[],
    now: Date,
  ): Promise<boolean[]> {
    if (accepted.length === 0) return Promise.resolve([]);
    return this.repository.recordSentMany(
      accepted.map(({ p, providerMessageId }) => {
        const event = this.event(p.message, now, 'email.sent', `${p.message.id}:email.sent`, {
          transport: this.transport.kind,
        });
        return { message: p.message, providerMessageId, eventKey: event.idempotencyKey, eventProps: event.props };
      }),
      now,
    );
  }

  private async onFailure(message: Claimed, now: Date, attempt: number, error: unknown): Promise<Outcome> {
    let failure = error instanceof SendFailure ? error : new SendFailure('unknown', errorMessage(error));
    if (failure.kind === 'unknown' && message.kind === 'operational') {
      // Operational mail (notices, CSM alerts) is better twice than never: at-least-once.
      failure = new SendFailure('retry', failure.message);
    }
    switch (failure.kind) {
      case 'permanent':
        return this.finish(message, now, 'dead', `rejected: ${failure.message}`, 'email.dead', attempt);
      case 'unknown':
        logger.warn({ messageId: message.id, reason: failure.message }, 'send outcome unknown');
        return this.finish(message, now, 'unknown', `outcome_unknown: ${failure.message}`, null, attempt);
      case 'retry': {
        // A rate limit (429) says "not now", not "failed": the worker pauses until Retry-After and
        // the attempt is not counted, so a provider's throttling never dead-letters mail.
        const throttled = failure.retryAfterMs !== undefined;
        if (failure.retryAfterMs !== undefined) {
          this.pausedUntil = Math.max(this.pausedUntil, now.getTime() + failure.retryAfterMs);
        }
        if (!throttled && attempt >= this.options.backoff.maxAttempts) {
          const reason = `retries_exhausted: ${failure.message}`;
          return this.finish(message, now, 'dead', reason, 'email.dead', attempt);
        }
        const delay = computeRetryDelay(attempt, this.options.backoff, failure.retryAfterMs);
        const ok = await this.repository.fencedUpdate(message, {
          status: 'queued',
          dueAt: new Date(now.getTime() + delay),
          statusReason: `retry: ${failure.message}`,
          ...(throttled ? { attempts: message.attempts } : {}),
          updatedAt: now,
        });
        return ok ? 'retried' : this.lostLease(message);
      }
    }
  }

  /** `unsent`: the message was marked in flight but never handed over; its attempt is not counted. */
  private async defer(message: Claimed, now: Date, until: Date, reason: string, unsent = false): Promise<Outcome> {
    const ok = await this.repository.fencedUpdate(
      message,
      {
        status: 'queued',
        dueAt: until,
        statusReason: reason,
        ...(unsent ? { attempts: message.attempts } : {}),
        updatedAt: now,
      },
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
