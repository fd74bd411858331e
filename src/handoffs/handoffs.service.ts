import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode } from '../common/domain-error';
import type { JsonObject } from '../common/json';
import { logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { EventsRepository } from '../events/events.repository';
import { factSettingsFrom } from '../metrics/fact-settings';
import { FactSnapshotRepository } from '../metrics/fact-snapshot.repository';
import { buildHandoffContext } from './handoff-context';
import {
  ACTIVE_HANDOFF_STATUSES,
  ACTIVE_HANDOFF_STATUSES_SQL,
  HANDOFF_EVENT_TYPES,
  type HandoffHistoryEntry,
  type HandoffRow,
  type HandoffStatus,
  type RaiseHandoff,
} from './handoff.types';

/** Columns of a handoff as the API, pages and notifications read it. */
const HANDOFF_SELECT = `
  h.id, h.account_id AS "accountId", a.external_id AS "accountExternalId", a.name AS "accountName",
  h.contact_id AS "contactId", c.external_id AS "contactExternalId", h.reason, h.reason_text AS "reasonText",
  h.kind, h.priority, h.note, h.source, h.scenario_id AS "scenarioId", h.step_id AS "stepId", h.status,
  h.csm_id AS "csmId", s.external_id AS "csmExternalId", s.name AS "csmName", h.assigned_via AS "assignedVia",
  h.holds_mail AS "holdsMail", h.repeats, h.created_at AS "createdAt", h.last_raised_at AS "lastRaisedAt",
  h.due_at AS "dueAt", h.acknowledged_at AS "acknowledgedAt", h.acknowledged_by AS "acknowledgedBy",
  h.resolved_at AS "resolvedAt", h.resolved_by AS "resolvedBy", h.outcome, h.dismissed_at AS "dismissedAt",
  h.dismissed_by AS "dismissedBy", h.escalated_at AS "escalatedAt", h.escalations, h.context
  FROM handoffs h JOIN accounts a ON a.id = h.account_id
  LEFT JOIN contacts c ON c.id = h.contact_id LEFT JOIN csms s ON s.id = h.csm_id`;

export interface HandoffFilter {
  csmId?: string | undefined;
  status?: HandoffStatus[] | undefined;
  priority?: string[] | undefined;
  reason?: string | undefined;
  accountId?: string | undefined;
  /** Keyset: handoffs created before this one (`createdAt|id`). */
  before?: { createdAt: Date; id: string } | undefined;
  limit: number;
}

/** A CSM as notifications need them (`s` is the csms row). */
const ASSIGNEE_COLUMNS = 's.id, s.email, s.locale, s.notification_webhook_url AS webhook';
const ASSIGNEE_JSON = "'id', s.id, 'email', s.email, 'locale', s.locale, 'webhook', s.notification_webhook_url";

interface Assignee {
  id: string;
  email: string;
  locale: 'ja' | 'en';
  webhook: string | null;
}

/**
 * Handoffs: raising one (deduplicated per account and reason, assigned to the account's
 * owner or the team queue, with its context snapshot, events and notifications, all in
 * the caller's transaction), the CSM's actions on it, the SLA escalation scan, and the
 * advertising-mail hold it implies for the account.
 */
@Injectable()
export class HandoffsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly events: EventsRepository,
    private readonly snapshots: FactSnapshotRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Raises a handoff inside `m`'s transaction. When the account already has an open (or
   * acknowledged) handoff for this reason, that one gets a `repeated` history entry instead
   * (`created: false`); the same intent key raised twice is one raise.
   */
  async raise(m: EntityManager, input: RaiseHandoff, now: Date): Promise<{ id: string; created: boolean }> {
    const id = randomUUID();
    const holdsMail = !this.config.handoffs.noHoldReasons.includes(input.reason);
    const inserted: { id: string }[] = await m.query(
      `INSERT INTO handoffs (id, account_id, contact_id, reason, reason_text, kind, priority, note, source, scenario_id,
                             step_id, enrollment_id, intent_key, holds_mail, due_at, created_at, last_raised_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $16)
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        id,
        input.accountId,
        input.contactId,
        input.reason,
        input.reasonText,
        input.kind,
        input.priority,
        input.note,
        input.source,
        input.scenarioId,
        input.stepId,
        input.enrollmentId,
        input.intentKey,
        holdsMail,
        new Date(now.getTime() + this.config.handoffs.dueMs[input.priority]).toISOString(),
        now.toISOString(),
      ],
    );
    if (inserted.length === 0) return this.repeat(m, input, now);

    const assignee = await this.assign(m, input.accountId);
    const settings = factSettingsFrom(this.config, {});
    const context = await buildHandoffContext(m, this.snapshots, settings, input.accountId, input.contactId, now);
    await m.query(`UPDATE handoffs SET csm_id = $2, assigned_via = $3, context = $4::jsonb WHERE id = $1`, [
      id,
      assignee?.csm.id ?? null,
      assignee?.via ?? 'none',
      JSON.stringify(context),
    ]);
    await this.recordHistory(
      m,
      id,
      now,
      'created',
      input.source === 'api' ? 'api' : `scenario:${input.scenarioId ?? ''}`,
      {
        reason: input.reason,
        priority: input.priority,
        ...(input.stepId ? { step: input.stepId } : {}),
        assignedVia: assignee?.via ?? 'none',
      },
    );
    await this.event(m, id, input.accountId, input.contactId, HANDOFF_EVENT_TYPES.created, now, {
      reason: input.reason,
      kind: input.kind,
      priority: input.priority,
    });
    if (assignee) {
      await this.notify(
        m,
        id,
        assignee.csm,
        'created',
        now,
        this.config.handoffs.digestPriorities.includes(input.priority),
      );
    } else {
      logger.warn(
        { handoff: id, reason: input.reason },
        'handoff has no CSM: the account has no owner and HANDOFF_QUEUE is empty',
      );
    }
    await this.notifyTeam(m, id, 'created', now);
    return { id, created: true };
  }

  /** The open handoff for the account and reason takes the repeat into its history. */
  private async repeat(m: EntityManager, input: RaiseHandoff, now: Date): Promise<{ id: string; created: boolean }> {
    if (input.intentKey !== null) {
      const same: { id: string }[] = await m.query(`SELECT id FROM handoffs WHERE intent_key = $1`, [input.intentKey]);
      if (same[0]) return { id: same[0].id, created: false };
    }
    const open: { id: string }[] = await m
      .query(
        `UPDATE handoffs SET repeats = repeats + 1, last_raised_at = $3, updated_at = $3
        WHERE account_id = $1 AND reason = $2 AND status IN (${ACTIVE_HANDOFF_STATUSES_SQL})
       RETURNING id`,
        [input.accountId, input.reason, now.toISOString()],
      )
      .then((r: [{ id: string }[], number]) => r[0]);
    const found = open[0];
    if (!found) throw new Error(`handoff for ${input.reason} conflicted but none is open`);
    await this.recordHistory(
      m,
      found.id,
      now,
      'repeated',
      input.source === 'api' ? 'api' : `scenario:${input.scenarioId ?? ''}`,
      {
        ...(input.stepId ? { step: input.stepId } : {}),
        ...(input.note ? { note: input.note } : {}),
        priority: input.priority,
      },
    );
    return { id: found.id, created: false };
  }

  /** The account's owner; without one, the next CSM of the team queue (round-robin). */
  private async assign(
    m: EntityManager,
    accountId: string,
  ): Promise<{ csm: Assignee; via: 'owner' | 'queue' } | undefined> {
    const owner: Assignee[] = await m.query(
      `SELECT ${ASSIGNEE_COLUMNS} FROM accounts a JOIN csms s ON s.id = a.owner_csm_id WHERE a.id = $1`,
      [accountId],
    );
    if (owner[0]) return { csm: owner[0], via: 'owner' };
    const queue = this.config.handoffs.queue;
    if (queue.length === 0) return undefined;
    const members: (Assignee & { external_id: string })[] = await m.query(
      `SELECT ${ASSIGNEE_COLUMNS}, s.external_id FROM csms s WHERE s.external_id = ANY($1::text[])`,
      [queue],
    );
    // The configured order, skipping ids that are not (or no longer) CSMs.
    const ordered = queue.flatMap((x) => members.filter((c) => c.external_id === x));
    if (ordered.length === 0) return undefined;
    const [position] = await m.query<{ n: string }[]>(`SELECT nextval('handoff_queue_seq') AS n`);
    const pick = ordered[Number(BigInt(position!.n) % BigInt(ordered.length))]!;
    return { csm: { id: pick.id, email: pick.email, locale: pick.locale, webhook: pick.webhook }, via: 'queue' };
  }

  /** Queues the CSM's notifications: mail (now, or in the daily digest) and their own webhook. */
  private async notify(
    m: EntityManager,
    handoffId: string,
    csm: Assignee,
    purpose: 'created' | 'escalated',
    now: Date,
    digest = false,
  ): Promise<void> {
    const rows = [
      { channel: 'email', target: csm.email, status: digest ? 'digest' : 'pending' },
      ...(csm.webhook && !digest ? [{ channel: 'webhook', target: csm.webhook, status: 'pending' }] : []),
    ];
    for (const r of rows) {
      await m.query(
        `INSERT INTO handoff_notifications (id, dedupe_key, handoff_id, csm_id, channel, purpose, target, status,
                                           next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT ON CONSTRAINT uq_handoff_notifications_dedupe DO NOTHING`,
        [
          randomUUID(),
          `${handoffId}:${purpose}:${r.channel}:${csm.id}`,
          handoffId,
          csm.id,
          r.channel,
          purpose,
          r.target,
          r.status,
          now.toISOString(),
        ],
      );
    }
  }

  /** The team-wide webhook (HANDOFF_WEBHOOK_URL), when configured. */
  private async notifyTeam(m: EntityManager, handoffId: string, purpose: 'created' | 'escalated', now: Date) {
    const url = this.config.handoffs.webhookUrl;
    if (url === undefined) return;
    await m.query(
      `INSERT INTO handoff_notifications (id, dedupe_key, handoff_id, channel, purpose, target, status, next_attempt_at, created_at)
       VALUES ($1, $2, $3, 'webhook', $4, $5, 'pending', $6, $6)
       ON CONFLICT ON CONSTRAINT uq_handoff_notifications_dedupe DO NOTHING`,
      [randomUUID(), `${handoffId}:${purpose}:webhook:team`, handoffId, purpose, url, now.toISOString()],
    );
  }

  async acknowledge(id: string, by: string): Promise<HandoffRow> {
    return this.transition(id, by, 'acknowledged', ['open'], null);
  }

  async resolve(id: string, by: string, outcome: string): Promise<HandoffRow> {
    return this.transition(id, by, 'resolved', ACTIVE_HANDOFF_STATUSES, outcome);
  }

  async dismiss(id: string, by: string, note: string | null): Promise<HandoffRow> {
    return this.transition(id, by, 'dismissed', ACTIVE_HANDOFF_STATUSES, note);
  }

  /**
   * Moves a handoff on (idempotent: the same action again answers the handoff as it is).
   * Resolving or dismissing the account's last mail-holding handoff releases its held mail.
   */
  private async transition(
    id: string,
    by: string,
    to: 'acknowledged' | 'resolved' | 'dismissed',
    from: readonly HandoffStatus[],
    text: string | null,
  ): Promise<HandoffRow> {
    const now = this.clock.now();
    await this.dataSource.transaction(async (m) => {
      const current = await this.findOne(id, m, true);
      if (!current) throw new DomainError(ErrorCode.NotFound, 'No such handoff');
      if (current.status === to) return;
      if (!from.includes(current.status)) {
        throw new DomainError(ErrorCode.Conflict, `The handoff is ${current.status}; it cannot be ${to}`);
      }
      const columns = {
        acknowledged: 'acknowledged_at = $3, acknowledged_by = $4',
        resolved: 'resolved_at = $3, resolved_by = $4, outcome = $5',
        dismissed: 'dismissed_at = $3, dismissed_by = $4, outcome = $5',
      }[to];
      await m.query(`UPDATE handoffs SET status = $2, ${columns}, updated_at = $3 WHERE id = $1`, [
        id,
        to,
        now.toISOString(),
        by,
        ...(to === 'acknowledged' ? [] : [text]),
      ]);
      await this.recordHistory(m, id, now, to, by, text === null ? {} : { note: text });
      await this.event(m, id, current.accountId, current.contactId, HANDOFF_EVENT_TYPES[to], now, {
        reason: current.reason,
        by,
      });
      if (to !== 'acknowledged') await this.releaseHeldMail(m, current.accountId, now);
    });
    return (await this.findOne(id))!;
  }

  /**
   * Escalates every handoff still open (not acknowledged) past its due time, once: the CSM
   * is notified again, and the lead (HANDOFF_LEAD). One statement finds and marks them.
   */
  async escalateOverdue(): Promise<number> {
    const now = this.clock.now();
    return this.dataSource.transaction(async (m) => {
      // One statement marks them and reads their CSM.
      const rows: {
        id: string;
        account_id: string;
        contact_id: string | null;
        reason: string;
        csm: Assignee | null;
      }[] = await m.query(
        `WITH due AS (
             UPDATE handoffs SET escalated_at = $1, escalations = escalations + 1, updated_at = $1
              WHERE id IN (SELECT id FROM handoffs WHERE status = 'open' AND due_at <= $1 AND escalated_at IS NULL
                            ORDER BY due_at LIMIT 500 FOR UPDATE SKIP LOCKED)
             RETURNING id, account_id, contact_id, reason, csm_id)
           SELECT due.id, due.account_id, due.contact_id, due.reason,
                  CASE WHEN s.id IS NULL THEN NULL ELSE json_build_object(${ASSIGNEE_JSON}) END AS csm
             FROM due LEFT JOIN csms s ON s.id = due.csm_id`,
        [now.toISOString()],
      );
      if (rows.length === 0) return 0;
      const lead = this.config.handoffs.lead;
      const leads: Assignee[] =
        lead === undefined
          ? []
          : await m.query(`SELECT ${ASSIGNEE_COLUMNS} FROM csms s WHERE s.external_id = $1`, [lead]);
      for (const r of rows) {
        const people = r.csm === null ? leads : [r.csm, ...leads.filter((l) => l.id !== r.csm!.id)];
        for (const person of people) await this.notify(m, r.id, person, 'escalated', now);
        await this.notifyTeam(m, r.id, 'escalated', now);
        await this.recordHistory(m, r.id, now, 'escalated', 'sla', { lead: lead ?? null });
        await this.event(m, r.id, r.account_id, r.contact_id, HANDOFF_EVENT_TYPES.escalated, now, { reason: r.reason });
      }
      logger.info({ escalated: rows.length }, 'overdue handoffs escalated');
      return rows.length;
    });
  }

  /** Pauses (until a time) or resumes (null) tech-touch mail to an account; answers the pause. */
  async pauseTechTouch(
    accountId: string,
    until: Date | null,
    note: string | null,
  ): Promise<{ pausedUntil: Date | null; note: string | null }> {
    const now = this.clock.now();
    return this.dataSource.transaction(async (m) => {
      const [rows]: [{ id: string }[], number] = await m.query(
        `UPDATE accounts SET tech_touch_paused_until = $2, tech_touch_pause_note = $3, updated_at = $4 WHERE id = $1 RETURNING id`,
        [accountId, until?.toISOString() ?? null, until === null ? null : note, now.toISOString()],
      );
      if (rows.length === 0) throw new DomainError(ErrorCode.NotFound, 'No such account');
      if (until === null || until <= now) await this.releaseHeldMail(m, accountId, now);
      return { pausedUntil: until, note: until === null ? null : note };
    });
  }

  /** Held advertising mail of an account is due again now (the send worker re-checks the hold). */
  private async releaseHeldMail(m: EntityManager, accountId: string, now: Date): Promise<void> {
    const [, released]: [unknown, number] = await m.query(
      `UPDATE messages SET due_at = $2 WHERE account_id = $1 AND status = 'queued'
          AND status_reason IN ('handoff_hold', 'tech_touch_paused') AND due_at > $2`,
      [accountId, now.toISOString()],
    );
    if (released > 0) logger.info({ account: accountId, released }, 'held advertising mail released');
  }

  async findOne(id: string, m: EntityManager = this.dataSource.manager, lock = false): Promise<HandoffRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const rows: HandoffRow[] = await m.query(
      `SELECT ${HANDOFF_SELECT} WHERE h.id = $1 ${lock ? 'FOR UPDATE OF h' : ''}`,
      [id],
    );
    return rows[0];
  }

  async list(filter: HandoffFilter): Promise<HandoffRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (filter.csmId) add((p) => `h.csm_id = ${p}`, filter.csmId);
    if (filter.status?.length) add((p) => `h.status = ANY(${p}::text[])`, filter.status);
    if (filter.priority?.length) add((p) => `h.priority = ANY(${p}::text[])`, filter.priority);
    if (filter.reason) add((p) => `h.reason = ${p}`, filter.reason);
    if (filter.accountId) add((p) => `h.account_id = ${p}`, filter.accountId);
    if (filter.before) {
      params.push(filter.before.createdAt.toISOString(), filter.before.id);
      where.push(`(h.created_at, h.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(filter.limit);
    return this.dataSource.query(
      `SELECT ${HANDOFF_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY h.created_at DESC, h.id DESC LIMIT $${params.length}`,
      params,
    );
  }

  async historyOf(id: string): Promise<HandoffHistoryEntry[]> {
    return this.dataSource.query(
      `SELECT at, action, actor, detail FROM handoff_history WHERE handoff_id = $1 ORDER BY seq`,
      [id],
    );
  }

  /** One line of a handoff's history, written with the change it records (in `m`). */
  async recordHistory(
    m: EntityManager,
    handoffId: string,
    at: Date,
    action: string,
    actor: string | null,
    detail: JsonObject,
  ): Promise<void> {
    await m.query(
      `INSERT INTO handoff_history (id, handoff_id, at, action, actor, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
      [randomUUID(), handoffId, at.toISOString(), action, actor, JSON.stringify(detail)],
    );
  }

  private async event(
    m: EntityManager,
    handoffId: string,
    accountId: string,
    contactId: string | null,
    type: string,
    at: Date,
    props: JsonObject,
  ): Promise<void> {
    await this.events.appendEvents(m, [
      {
        type,
        occurredAt: at,
        receivedAt: at,
        accountId,
        contactId,
        visitorId: null,
        source: 'system',
        idempotencyKey: `${handoffId}:${type}:${at.toISOString()}`,
        props: { handoffId, ...props },
      },
    ]);
  }
}
