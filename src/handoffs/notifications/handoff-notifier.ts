import { HandoffAccessSigner, pageQuery } from '../handoff-pages.util';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { DateTime } from 'luxon';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { Locale } from '../../messaging/messaging.contracts';
import { buildMessageIdHeader, type OutgoingMail } from '../../messaging/send/outgoing-mail';
import { SendFailure } from '../../messaging/send/retry-policy.util';
import { MailTransport } from '../../messaging/send/transports/mail-transport';
import type { HandoffContext, HandoffRow } from '../handoff.types';
import { HandoffsService } from '../handoffs.service';
import {
  HANDOFF_DIGEST_TEMPLATE,
  HANDOFF_NOTIFICATION_TEMPLATE,
  HandoffMailRenderer,
  type RenderedHandoffMail,
} from './handoff-mail.renderer';
import { type BackoffPolicy, computeRetryDelay } from '../../messaging/send/retry-policy.util';
import { OutboundError, postJson } from './outbound-http';

/** Rows claimed at once, their lease, and retries: exponential (deterministic, no jitter), at most 8 attempts. */
const BATCH_SIZE = 50;
const LEASE_MS = 60_000;
const RETRY: BackoffPolicy = { maxAttempts: 8, baseMs: 30_000, maxMs: 3_600_000 };

interface NotificationRow {
  id: string;
  handoffId: string | null;
  csmId: string | null;
  channel: 'email' | 'webhook';
  purpose: 'created' | 'escalated' | 'digest';
  target: string;
  attempts: number;
}

interface Recipient {
  name: string;
  locale: Locale;
}

export interface DeliveryReport {
  sent: number;
  retried: number;
  failed: number;
  refused: number;
}

const LABELS: Record<Locale, Record<string, string>> = {
  ja: {
    risk: 'リスク',
    expansion: '拡大機会',
    request: '依頼',
    low: '低',
    normal: '通常',
    high: '高',
    urgent: '緊急',
    open: '未対応',
    acknowledged: '対応中',
    resolved: '解決済み',
    dismissed: '却下',
    none: '期限なし',
  },
  en: {
    risk: 'risk',
    expansion: 'expansion',
    request: 'request',
    low: 'low',
    normal: 'normal',
    high: 'high',
    urgent: 'urgent',
    open: 'open',
    acknowledged: 'acknowledged',
    resolved: 'resolved',
    dismissed: 'dismissed',
    none: 'no due time',
  },
};

/**
 * Delivers the handoff notifications HandoffsService queues (handoff_notifications):
 * CSM mail through the configured MailTransport, Slack-compatible webhooks through the
 * SSRF-guarded outbound POST, the daily digest of low-priority handoffs. Rows are claimed
 * with a lease (FOR UPDATE SKIP LOCKED), so several workers share the work; delivery is at
 * least once (a worker dying after the send but before the bookkeeping sends again).
 */
@Injectable()
export class HandoffNotifier implements OnApplicationShutdown {
  private readonly renderer: HandoffMailRenderer;
  private readonly signer: HandoffAccessSigner;

  constructor(
    private readonly dataSource: DataSource,
    private readonly handoffs: HandoffsService,
    private readonly transport: MailTransport,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.signer = new HandoffAccessSigner(config.tracking.keys, config.tracking.gracePeriodMs);
    this.renderer = new HandoffMailRenderer(undefined, config.defaults.timeZone);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close();
  }

  /** The wait before attempt `attempts + 1` (30 s, 1 min, 2 min ... at most 1 h). */
  private backoffMs(attempts: number): number {
    return computeRetryDelay(attempts, RETRY, undefined, () => 1);
  }

  /** Claims the due pending notifications and delivers them (mail and webhooks in parallel). */
  async deliverDue(): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, retried: 0, failed: 0, refused: 0 };
    const now = this.clock.now();
    const [rows]: [NotificationRow[], number] = await this.dataSource.query(
      `UPDATE handoff_notifications SET lease_until = $2
        WHERE id IN (SELECT id FROM handoff_notifications
                      WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                      ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING id, handoff_id AS "handoffId", csm_id AS "csmId", channel, purpose, target, attempts`,
      [now.toISOString(), new Date(now.getTime() + LEASE_MS).toISOString(), BATCH_SIZE],
    );
    await Promise.all(
      rows.map(async (row) => {
        const outcome = await this.deliverOne(row, now);
        report[outcome] += 1;
      }),
    );
    return report;
  }

  private async deliverOne(row: NotificationRow, now: Date): Promise<keyof DeliveryReport> {
    try {
      const handoff = row.handoffId === null ? undefined : await this.handoffs.findOne(row.handoffId);
      if (!handoff) {
        await this.dataSource.query(
          `UPDATE handoff_notifications SET status = 'failed', last_error = 'handoff not found', lease_until = NULL WHERE id = $1`,
          [row.id],
        );
        return 'failed';
      }
      const recipient = await this.recipient(row.csmId);
      if (row.channel === 'email') {
        const mail = await this.renderer.render(
          HANDOFF_NOTIFICATION_TEMPLATE,
          recipient.locale,
          this.mailData(handoff, recipient.locale, row.purpose === 'escalated', row.csmId, now),
          now,
        );
        await this.sendMail(row.id, row.target, mail, now);
      } else {
        await postJson(row.target, this.webhookPayload(handoff, recipient.locale, row.purpose, row.csmId, now), {
          allowHosts: this.config.outboundAllowHosts,
        });
      }
      await this.dataSource.transaction(async (m) => {
        await m.query(
          `UPDATE handoff_notifications SET status = 'sent', sent_at = $2, attempts = attempts + 1, lease_until = NULL,
                  last_error = NULL WHERE id = $1`,
          [row.id, this.clock.now().toISOString()],
        );
        await this.handoffs.recordHistory(m, handoff.id, this.clock.now(), 'notified', 'notifier', {
          channel: row.channel,
          purpose: row.purpose,
        });
      });
      return 'sent';
    } catch (error) {
      return this.recordFailure(row, error);
    }
  }

  private async recordFailure(row: NotificationRow, error: unknown): Promise<keyof DeliveryReport> {
    const reason = error instanceof Error ? error.message : String(error);
    const attempts = row.attempts + 1;
    const refused = error instanceof OutboundError && error.kind === 'refused';
    const permanent = error instanceof SendFailure && error.kind === 'permanent';
    const giveUp = refused || permanent || attempts >= RETRY.maxAttempts;
    const now = this.clock.now();
    logger.warn(
      { notification: row.id, handoff: row.handoffId, channel: row.channel, attempts, reason },
      giveUp ? 'handoff notification given up' : 'handoff notification failed; retrying',
    );
    await this.dataSource.transaction(async (m) => {
      await m.query(
        `UPDATE handoff_notifications SET status = $2, attempts = $3, next_attempt_at = $4, lease_until = NULL,
                last_error = $5 WHERE id = $1`,
        [
          row.id,
          refused ? 'refused' : giveUp ? 'failed' : 'pending',
          attempts,
          new Date(now.getTime() + (giveUp ? 0 : this.backoffMs(attempts))).toISOString(),
          reason.slice(0, 1000),
        ],
      );
      if (giveUp && row.handoffId !== null) {
        await this.handoffs.recordHistory(m, row.handoffId, this.clock.now(), 'notification_failed', 'notifier', {
          channel: row.channel,
          purpose: row.purpose,
          attempts,
          reason: reason.slice(0, 500),
        });
      }
    });
    return refused ? 'refused' : giveUp ? 'failed' : 'retried';
  }

  /**
   * The daily digest: at config.handoffs.digestAt (DEFAULT_TIMEZONE) each CSM gets one mail
   * listing their handoffs queued for it (status `digest`) up to that moment; the rows are
   * then sent. Before today's digest time the cut-off is yesterday's, so each row goes in
   * exactly one day's digest and calling this often (every worker tick) is safe.
   */
  async sendDigests(now: Date = this.clock.now()): Promise<number> {
    const cutoff = this.digestCutoff(now);
    const csms: { csmId: string }[] = await this.dataSource.query(
      `SELECT DISTINCT csm_id AS "csmId" FROM handoff_notifications
        WHERE status = 'digest' AND csm_id IS NOT NULL AND created_at <= $1 AND (lease_until IS NULL OR lease_until <= $2)`,
      [cutoff.toISOString(), now.toISOString()],
    );
    let sent = 0;
    for (const { csmId } of csms) {
      if (await this.sendDigest(csmId, cutoff, now)) sent += 1;
    }
    return sent;
  }

  /** The latest digest moment at or before `now`. */
  digestCutoff(now: Date): Date {
    const [hour, minute] = this.config.handoffs.digestAt.split(':').map(Number);
    const local = DateTime.fromJSDate(now, { zone: this.config.defaults.timeZone });
    let at = local.set({ hour: hour ?? 9, minute: minute ?? 0, second: 0, millisecond: 0 });
    if (at > local) at = at.minus({ days: 1 });
    return at.toJSDate();
  }

  private async sendDigest(csmId: string, cutoff: Date, now: Date): Promise<boolean> {
    const lease = new Date(now.getTime() + LEASE_MS).toISOString();
    const [rows]: [NotificationRow[], number] = await this.dataSource.query(
      `UPDATE handoff_notifications SET lease_until = $4
        WHERE id IN (SELECT id FROM handoff_notifications
                      WHERE status = 'digest' AND csm_id = $1 AND created_at <= $2
                        AND (lease_until IS NULL OR lease_until <= $3)
                      ORDER BY created_at FOR UPDATE SKIP LOCKED)
       RETURNING id, handoff_id AS "handoffId", csm_id AS "csmId", channel, purpose, target, attempts`,
      [csmId, cutoff.toISOString(), now.toISOString(), lease],
    );
    if (rows.length === 0) return false;
    try {
      const recipient = await this.recipient(csmId);
      const labels = LABELS[recipient.locale];
      const handoffs: HandoffRow[] = [];
      for (const r of rows) {
        const h = r.handoffId === null ? undefined : await this.handoffs.findOne(r.handoffId);
        if (h) handoffs.push(h);
      }
      const mail = await this.renderer.render(
        HANDOFF_DIGEST_TEMPLATE,
        recipient.locale,
        {
          count: handoffs.length,
          listUrl: this.listUrl(csmId, recipient.locale, now),
          handoffs: handoffs.map((h) => {
            const context = contextOf(h);
            return {
              accountName: h.accountName,
              reason: h.reason,
              reasonText: h.reasonText ?? h.reason,
              priority: labels[h.priority] ?? h.priority,
              status: labels[h.status] ?? h.status,
              due: this.formatTime(h.dueAt, recipient.locale),
              lifecycle: context?.account.lifecycle ?? '-',
              hasRenewal: context?.account.daysToRenewal !== null && context?.account.daysToRenewal !== undefined,
              daysToRenewal: context?.account.daysToRenewal ?? null,
              url: this.handoffUrl(h.id, csmId, recipient.locale, now),
            };
          }),
        },
        now,
      );
      // One mail for the batch: its id is the first row's (stable across retries of the same batch).
      await this.sendMail(rows[0]!.id, rows[0]!.target, mail, now);
      await this.dataSource.transaction(async (m) => {
        await m.query(
          `UPDATE handoff_notifications SET status = 'sent', sent_at = $2, attempts = attempts + 1, lease_until = NULL,
                  last_error = NULL WHERE id = ANY($1::uuid[])`,
          [rows.map((r) => r.id), this.clock.now().toISOString()],
        );
        for (const r of rows) {
          if (r.handoffId !== null)
            await this.handoffs.recordHistory(m, r.handoffId, this.clock.now(), 'notified', 'notifier', {
              channel: 'email',
              purpose: 'digest',
            });
        }
      });
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn({ csm: csmId, rows: rows.length, reason }, 'handoff digest failed; retrying');
      for (const r of rows) {
        const attempts = r.attempts + 1;
        const giveUp = attempts >= RETRY.maxAttempts;
        await this.dataSource.transaction(async (m) => {
          await m.query(
            `UPDATE handoff_notifications SET status = $2, attempts = $3, lease_until = $4, last_error = $5 WHERE id = $1`,
            [
              r.id,
              giveUp ? 'failed' : 'digest',
              attempts,
              giveUp ? null : new Date(now.getTime() + this.backoffMs(attempts)).toISOString(),
              reason.slice(0, 1000),
            ],
          );
          if (giveUp && r.handoffId !== null) {
            await this.handoffs.recordHistory(m, r.handoffId, this.clock.now(), 'notification_failed', 'notifier', {
              channel: 'email',
              purpose: 'digest',
              attempts,
              reason: reason.slice(0, 500),
            });
          }
        });
      }
      return false;
    }
  }

  private async sendMail(id: string, to: string, rendered: RenderedHandoffMail, now: Date): Promise<void> {
    const mail: OutgoingMail = {
      messageId: id,
      messageIdHeader: buildMessageIdHeader(id, this.config.mail.from),
      from: this.config.mail.from,
      to,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      date: now,
      // OutgoingMail always carries List-Unsubscribe; for this internal mail it points at the
      // CSM's handoff list (where notifications are managed), never at a customer unsubscribe.
      unsubscribeUrl: `${this.config.http.publicBaseUrl}/csm/handoffs`,
      unsubscribeMailto: undefined,
      oneClick: false,
    };
    await this.transport.send(mail);
  }

  private async recipient(csmId: string | null): Promise<Recipient> {
    if (csmId !== null) {
      const rows: { name: string; locale: Locale }[] = await this.dataSource.query(
        `SELECT name, locale FROM csms WHERE id = $1`,
        [csmId],
      );
      if (rows[0]) return rows[0];
    }
    // The team webhook: the deployment's default language.
    return { name: '', locale: this.config.defaults.locale };
  }

  private mailData(
    h: HandoffRow,
    locale: Locale,
    escalated: boolean,
    recipientCsmId: string | null,
    now: Date,
  ): Record<string, unknown> {
    const labels = LABELS[locale];
    const context = contextOf(h);
    const usage = context?.usage ?? [];
    return {
      escalated,
      listUrl: this.listUrl(recipientCsmId, locale, now),
      handoff: {
        accountName: h.accountName,
        contactName: context?.contact?.name ?? h.contactExternalId,
        reason: h.reason,
        reasonText: h.reasonText ?? h.reason,
        kind: labels[h.kind] ?? h.kind,
        priority: labels[h.priority] ?? h.priority,
        due: this.formatTime(h.dueAt, locale),
        note: h.note,
        csmName: h.csmName,
        url: this.handoffUrl(h.id, recipientCsmId, locale, now),
      },
      context: {
        lifecycle: context?.account.lifecycle ?? '-',
        hasRenewal: context?.account.daysToRenewal !== null && context?.account.daysToRenewal !== undefined,
        daysToRenewal: context?.account.daysToRenewal ?? null,
        usageTrend: usage.length === 0 ? '-' : usage.map((u) => u.events).join(' → '),
        emails: (context?.emails ?? []).slice(0, 5).map((e) => ({
          template: e.template,
          sentAt: e.sentAt === null ? '-' : this.formatTime(new Date(e.sentAt), locale),
          opened: e.opened,
          clicked: e.clicked,
        })),
        siteVisits: (context?.siteVisits ?? []).slice(0, 5).map((v) => ({
          section: v.section,
          views: v.views,
          lastAt: this.formatTime(new Date(v.lastAt), locale),
        })),
      },
    };
  }

  /** Slack-compatible incoming-webhook body: `text` (fallback) and a few blocks. */
  webhookPayload(
    h: HandoffRow,
    locale: Locale,
    purpose: string,
    /** The CSM whose own webhook this is (their link is signed); null: the team channel. */
    recipientCsmId: string | null = null,
    now: Date = new Date(0),
  ): { text: string; blocks: unknown[] } {
    const labels = LABELS[locale];
    const context = contextOf(h);
    const url = this.handoffUrl(h.id, recipientCsmId, locale, now);
    const reason = h.reasonText ?? h.reason;
    const escalated = purpose === 'escalated';
    const head =
      locale === 'ja'
        ? `${escalated ? '【エスカレーション】' : '【対応依頼】'}${h.accountName}：${reason}`
        : `${escalated ? '[Escalated] ' : '[Handoff] '}${h.accountName}: ${reason}`;
    const facts =
      locale === 'ja'
        ? `優先度：${labels[h.priority]} ／ 担当：${h.csmName ?? '未割当'} ／ 期限：${this.formatTime(h.dueAt, locale)}`
        : `Priority: ${labels[h.priority]} / CSM: ${h.csmName ?? 'unassigned'} / Due: ${this.formatTime(h.dueAt, locale)}`;
    const story = context
      ? locale === 'ja'
        ? `ライフサイクル：${context.account.lifecycle}${context.account.daysToRenewal === null ? '' : ` ／ 更新まで${context.account.daysToRenewal}日`}`
        : `Lifecycle: ${context.account.lifecycle}${context.account.daysToRenewal === null ? '' : ` / renewal in ${context.account.daysToRenewal} days`}`
      : '';
    const text = `${head}\n${facts}${story ? `\n${story}` : ''}\n<${url}|${locale === 'ja' ? '開く' : 'Open'}>`;
    return {
      text,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `*${escapeSlack(head)}*\n${escapeSlack(facts)}` } },
        ...(story ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: escapeSlack(story) }] }] : []),
        {
          type: 'actions',
          elements: [{ type: 'button', text: { type: 'plain_text', text: locale === 'ja' ? '開く' : 'Open' }, url }],
        },
      ],
    };
  }

  /**
   * Links to the CSM pages, signed for the recipient CSM (a token naming the CSM by id,
   * never by email) so a click opens the page where they acknowledge. The team channel's
   * links are not signed: a CSM there asks for a link (`GET /api/csms/<id>/handoff-link`).
   */
  private handoffUrl(id: string, csmId: string | null, locale: Locale, now: Date): string {
    return `${this.config.http.publicBaseUrl}/csm/handoffs/${id}${this.access(csmId, locale, now)}`;
  }

  private listUrl(csmId: string | null, locale: Locale, now: Date): string {
    return `${this.config.http.publicBaseUrl}/csm/handoffs${this.access(csmId, locale, now)}`;
  }

  private access(csmId: string | null, locale: Locale, now: Date): string {
    return csmId === null ? '' : `?${pageQuery(this.signer.sign(csmId, now), locale)}`;
  }

  private formatTime(at: Date | null, locale: Locale): string {
    if (at === null) return LABELS[locale].none!;
    const t = DateTime.fromJSDate(new Date(at), { zone: this.config.defaults.timeZone });
    return locale === 'ja' ? t.toFormat('yyyy年M月d日 HH:mm') : t.setLocale('en-US').toFormat('MMM d, yyyy HH:mm ZZZZ');
  }
}

function contextOf(h: HandoffRow): HandoffContext | undefined {
  return 'account' in h.context ? (h.context as HandoffContext) : undefined;
}

function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
