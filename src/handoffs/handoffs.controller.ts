import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { ApiKeyGuard } from '../common/api-key.guard';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode } from '../common/domain-error';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination';
import { parseOrThrow } from '../common/zod-issues';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { externalIdSchema } from '../contacts/contacts.schemas';
import { HandoffAccessSigner, pageQuery } from './handoff-pages.util';
import { type HandoffContext, type HandoffHistoryEntry, type HandoffRow, manualHandoff } from './handoff.types';
import {
  acknowledgeSchema,
  dismissSchema,
  handoffIdSchema,
  handoffListQuerySchema,
  raiseHandoffSchema,
  resolveSchema,
  techTouchPauseSchema,
} from './handoffs.schemas';
import { HandoffsService } from './handoffs.service';
import { UsageRollups } from '../metrics/usage-rollups.service';

const isoOf = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());

/** A handoff as the API answers it (ISO dates; internal ids of account, contact and CSM left out). */
export interface HandoffView {
  id: string;
  account: { externalId: string; name: string };
  contactExternalId: string | null;
  reason: string;
  reasonText: string | null;
  kind: string;
  priority: string;
  note: string | null;
  source: string;
  scenarioId: string | null;
  stepId: string | null;
  status: string;
  csm: { externalId: string; name: string | null } | null;
  assignedVia: string;
  holdsMail: boolean;
  repeats: number;
  createdAt: string | null;
  lastRaisedAt: string | null;
  dueAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  outcome: string | null;
  dismissedAt: string | null;
  dismissedBy: string | null;
  escalatedAt: string | null;
  escalations: number;
}

export interface HandoffDetailView extends HandoffView {
  context: HandoffContext | Record<string, never>;
  history: { at: string | null; action: string; actor: string | null; detail: Record<string, unknown> }[];
}

export function handoffView(h: HandoffRow): HandoffView {
  return {
    id: h.id,
    account: { externalId: h.accountExternalId, name: h.accountName },
    contactExternalId: h.contactExternalId,
    reason: h.reason,
    reasonText: h.reasonText,
    kind: h.kind,
    priority: h.priority,
    note: h.note,
    source: h.source,
    scenarioId: h.scenarioId,
    stepId: h.stepId,
    status: h.status,
    csm: h.csmExternalId === null ? null : { externalId: h.csmExternalId, name: h.csmName },
    assignedVia: h.assignedVia,
    holdsMail: h.holdsMail,
    repeats: Number(h.repeats),
    createdAt: isoOf(h.createdAt),
    lastRaisedAt: isoOf(h.lastRaisedAt),
    dueAt: isoOf(h.dueAt),
    acknowledgedAt: isoOf(h.acknowledgedAt),
    acknowledgedBy: h.acknowledgedBy,
    resolvedAt: isoOf(h.resolvedAt),
    resolvedBy: h.resolvedBy,
    outcome: h.outcome,
    dismissedAt: isoOf(h.dismissedAt),
    dismissedBy: h.dismissedBy,
    escalatedAt: isoOf(h.escalatedAt),
    escalations: Number(h.escalations),
  };
}

function historyView(entries: HandoffHistoryEntry[]): HandoffDetailView['history'] {
  return entries.map((x) => ({ at: isoOf(x.at), action: x.action, actor: x.actor, detail: x.detail }));
}

function externalIdParam(value: string): string {
  return parseOrThrow(externalIdSchema, value, 'external id in the URL');
}

/** Looks up internal ids by external id (404 when unknown). */
async function idOf(
  dataSource: DataSource,
  table: 'accounts' | 'csms' | 'contacts',
  externalId: string,
): Promise<{ id: string; account_id?: string }> {
  const rows: { id: string; account_id?: string }[] = await dataSource.query(
    `SELECT id${table === 'contacts' ? ', account_id' : ''} FROM ${table} WHERE external_id = $1`,
    [externalId],
  );
  const what = { accounts: 'account', csms: 'CSM', contacts: 'contact' }[table];
  if (!rows[0]) throw new DomainError(ErrorCode.NotFound, `No ${what} ${externalId}`);
  return rows[0];
}

/** Handoffs admin API: list, inspect, raise by hand, and move them on. */
@Controller('api/handoffs')
@UseGuards(ApiKeyGuard)
export class HandoffsController {
  constructor(
    private readonly handoffs: HandoffsService,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly rollups: UsageRollups,
  ) {}

  @Get()
  async list(@Query() query: unknown): Promise<Page<HandoffView>> {
    const q = parseOrThrow(handoffListQuerySchema, query, 'query');
    let before: { createdAt: Date; id: string } | undefined;
    if (q.cursor !== undefined) {
      const [at, id] = decodeCursor(q.cursor, 2);
      const createdAt = new Date(String(at));
      if (Number.isNaN(createdAt.getTime()) || !handoffIdSchema.safeParse(id).success) {
        throw new DomainError(ErrorCode.Invalid, 'Invalid cursor', [
          { path: 'cursor', message: 'is not a cursor this API returned' },
        ]);
      }
      before = { createdAt, id: String(id) };
    }
    const csmId = q.csm === undefined ? undefined : (await idOf(this.dataSource, 'csms', q.csm)).id;
    const accountId = q.account === undefined ? undefined : (await idOf(this.dataSource, 'accounts', q.account)).id;
    const rows = await this.handoffs.list({
      csmId,
      accountId,
      status: q.status,
      priority: q.priority,
      reason: q.reason,
      before,
      limit: q.limit + 1,
    });
    const items = rows.slice(0, q.limit);
    const last = items.at(-1);
    return {
      items: items.map(handoffView),
      nextCursor:
        rows.length > q.limit && last ? encodeCursor([new Date(last.createdAt).toISOString(), last.id]) : null,
    };
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<HandoffDetailView> {
    return this.detail(id);
  }

  /** A person raises a handoff: 201 when created, 200 when it joined the open one for the reason. */
  @Post()
  async raise(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<HandoffDetailView> {
    const input = parseOrThrow(raiseHandoffSchema, body);
    const account = await idOf(this.dataSource, 'accounts', input.accountExternalId);
    let contactId: string | null = null;
    if (input.contactExternalId) {
      const contact = await idOf(this.dataSource, 'contacts', input.contactExternalId);
      if (contact.account_id !== account.id) {
        throw new DomainError(ErrorCode.Invalid, 'Invalid body', [
          { path: 'contactExternalId', message: 'is not a contact of this account' },
        ]);
      }
      contactId = contact.id;
    }
    // The context's usage comes from the rollups: count every event stored before this
    // request, as a scenario's handoff does (its worker tick folds before it runs steps).
    await this.rollups.fold();
    const result = await this.dataSource.transaction((m) =>
      this.handoffs.raise(
        m,
        manualHandoff({
          accountId: account.id,
          contactId,
          reason: input.reason,
          reasonText: input.reasonText ?? null,
          kind: input.kind,
          priority: input.priority,
          note: input.note ?? null,
          intentKey: input.idempotencyKey === undefined ? null : `api:${input.idempotencyKey}`,
        }),
        this.clock.now(),
      ),
    );
    void reply.status(result.created ? 201 : 200);
    return this.detail(result.id);
  }

  @Post(':id/acknowledge')
  @HttpCode(200)
  async acknowledge(@Param('id') id: string, @Body() body: unknown): Promise<HandoffView> {
    const handoffId = await this.existing(id);
    const input = parseOrThrow(acknowledgeSchema, body);
    return handoffView(await this.handoffs.acknowledge(handoffId, input.by));
  }

  @Post(':id/resolve')
  @HttpCode(200)
  async resolve(@Param('id') id: string, @Body() body: unknown): Promise<HandoffView> {
    const handoffId = await this.existing(id);
    const input = parseOrThrow(resolveSchema, body);
    return handoffView(await this.handoffs.resolve(handoffId, input.by, input.outcome));
  }

  @Post(':id/dismiss')
  @HttpCode(200)
  async dismiss(@Param('id') id: string, @Body() body: unknown): Promise<HandoffView> {
    const handoffId = await this.existing(id);
    const input = parseOrThrow(dismissSchema, body);
    return handoffView(await this.handoffs.dismiss(handoffId, input.by, input.note ?? null));
  }

  /** 404 for an id that is no handoff (checked before the body, so a typo'd id is not a 400). */
  private async existing(id: string): Promise<string> {
    if (!handoffIdSchema.safeParse(id).success || !(await this.handoffs.findOne(id))) {
      throw new DomainError(ErrorCode.NotFound, 'No such handoff');
    }
    return id;
  }

  private async detail(id: string): Promise<HandoffDetailView> {
    const row = handoffIdSchema.safeParse(id).success ? await this.handoffs.findOne(id) : undefined;
    if (!row) throw new DomainError(ErrorCode.NotFound, 'No such handoff');
    return { ...handoffView(row), context: row.context, history: historyView(await this.handoffs.historyOf(id)) };
  }
}

export interface TechTouchPauseView {
  accountExternalId: string;
  pausedUntil: string | null;
  note: string | null;
}

/** Manual pause of an account's tech-touch mail (`POST`), and resuming it (`DELETE`). */
@Controller('api/accounts')
@UseGuards(ApiKeyGuard)
export class TechTouchPauseController {
  constructor(
    private readonly handoffs: HandoffsService,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  @Post(':externalId/tech-touch-pause')
  @HttpCode(200)
  async pause(@Param('externalId') externalId: string, @Body() body: unknown): Promise<TechTouchPauseView> {
    const account = await idOf(this.dataSource, 'accounts', externalIdParam(externalId));
    const input = parseOrThrow(techTouchPauseSchema, body);
    const until = new Date(input.until);
    if (until.getTime() <= this.clock.now().getTime()) {
      throw new DomainError(ErrorCode.Invalid, 'Invalid body', [{ path: 'until', message: 'must be in the future' }]);
    }
    const result = await this.handoffs.pauseTechTouch(account.id, until, input.note ?? null);
    return { accountExternalId: externalId, pausedUntil: isoOf(result.pausedUntil), note: result.note };
  }

  @Delete(':externalId/tech-touch-pause')
  async resume(@Param('externalId') externalId: string): Promise<TechTouchPauseView> {
    const account = await idOf(this.dataSource, 'accounts', externalIdParam(externalId));
    const result = await this.handoffs.pauseTechTouch(account.id, null, null);
    return { accountExternalId: externalId, pausedUntil: isoOf(result.pausedUntil), note: result.note };
  }
}

/** A signed link to a CSM's handoff list page (the pages take no API key). */
@Controller('api/csms')
@UseGuards(ApiKeyGuard)
export class HandoffLinkController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly signer: HandoffAccessSigner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get(':externalId/handoff-link')
  async link(@Param('externalId') externalId: string): Promise<{ url: string; expiresAt: string }> {
    const rows: { id: string; locale: 'ja' | 'en' }[] = await this.dataSource.query(
      `SELECT id, locale FROM csms WHERE external_id = $1`,
      [externalIdParam(externalId)],
    );
    const csm = rows[0];
    if (!csm) throw new DomainError(ErrorCode.NotFound, `No CSM ${externalId}`);
    const token = this.signer.sign(csm.id, this.clock.now());
    const access = this.signer.verify(token, this.clock.now())!;
    const base = this.config.http.publicBaseUrl.replace(/\/+$/, '');
    return {
      url: `${base}/csm/handoffs?${pageQuery(token, csm.locale)}`,
      expiresAt: new Date(access.exp * 1000).toISOString(),
    };
  }
}
