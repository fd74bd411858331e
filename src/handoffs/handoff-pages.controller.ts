import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode } from '../common/domain-error';
import { decodeCursor, encodeCursor } from '../common/pagination';
import { HANDOFF_PRIORITIES, HANDOFF_STATUSES } from './handoff.types';
import {
  HANDOFF_PAGE_HEADERS,
  HandoffAccessSigner,
  type PageLocale,
  pageQuery,
  renderDetailPage,
  renderListPage,
  renderUnauthorizedPage,
} from './handoff-pages.util';
import { handoffIdSchema, pageFormSchema, pageQuerySchema, reasonSchema } from './handoffs.schemas';
import { HandoffsService } from './handoffs.service';

const PAGE_SIZE = 50;
type Action = 'acknowledge' | 'resolve' | 'dismiss';
const ACTIONS: readonly Action[] = ['acknowledge', 'resolve', 'dismiss'];

interface Viewer {
  token: string;
  csmId: string;
  externalId: string;
  locale: PageLocale;
}

/** A repeated query field (`?lang=ja&lang=en`) counts as its last value. */
function lastValues(query: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof query !== 'object' || query === null) return out;
  for (const [k, v] of Object.entries(query)) out[k] = Array.isArray(v) ? v.at(-1) : v;
  return out;
}

const csv = <T extends string>(text: string | undefined, allowed: readonly T[]): T[] =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is T => (allowed as readonly string[]).includes(s));

/**
 * Server-rendered pages for CSMs: the handoff list (filters as a GET form) and one handoff
 * with its context, with POST forms to acknowledge, resolve and dismiss. A browser cannot
 * send the API key, so access is a signed, expiring token naming the CSM (`?t=`, and a
 * hidden field in the forms); the actions are recorded as that CSM.
 */
@Controller('csm/handoffs')
export class HandoffPagesController {
  constructor(
    private readonly handoffs: HandoffsService,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly signer: HandoffAccessSigner,
  ) {}

  @Get()
  async list(@Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    const raw = lastValues(query);
    const parsed = pageQuerySchema.safeParse(raw);
    const viewer = parsed.success ? await this.viewer(parsed.data.t, parsed.data.lang) : null;
    if (!parsed.success || !viewer) return this.unauthorized(reply);
    const q = parsed.data;
    // No `csm` field at all: the viewer's own; an empty one (the form's "All"): everyone's.
    const csmFilter = 'csm' in raw ? (q.csm ?? '') : viewer.externalId;
    const statusFilter = 'status' in raw ? (q.status ?? '') : 'open,acknowledged';
    const priorityFilter = q.priority ?? '';
    const reasonFilter = q.reason !== undefined && reasonSchema.safeParse(q.reason).success ? q.reason : '';
    let csmId: string | undefined;
    if (csmFilter !== '') {
      const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM csms WHERE external_id = $1`, [
        csmFilter,
      ]);
      csmId = rows[0]?.id ?? '00000000-0000-0000-0000-000000000000';
    }
    let before: { createdAt: Date; id: string } | undefined;
    const cursor = typeof raw.cursor === 'string' ? raw.cursor : undefined;
    if (cursor !== undefined) {
      try {
        const [at, id] = decodeCursor(cursor, 2);
        const createdAt = new Date(String(at));
        if (!Number.isNaN(createdAt.getTime()) && handoffIdSchema.safeParse(id).success) {
          before = { createdAt, id: String(id) };
        }
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
      }
    }
    const rows = await this.handoffs.list({
      csmId,
      status: csv(statusFilter, HANDOFF_STATUSES),
      priority: csv(priorityFilter, HANDOFF_PRIORITIES),
      reason: reasonFilter || undefined,
      before,
      limit: PAGE_SIZE + 1,
    });
    const items = rows.slice(0, PAGE_SIZE);
    const last = items.at(-1);
    const csms: { externalId: string; name: string }[] = await this.dataSource.query(
      `SELECT external_id AS "externalId", name FROM csms ORDER BY name, external_id LIMIT 500`,
    );
    this.send(
      reply,
      200,
      renderListPage({
        locale: viewer.locale,
        token: viewer.token,
        filters: { csm: csmFilter, status: statusFilter, priority: priorityFilter, reason: reasonFilter },
        csms,
        items,
        nextCursor:
          rows.length > PAGE_SIZE && last ? encodeCursor([new Date(last.createdAt).toISOString(), last.id]) : null,
      }),
    );
  }

  @Get(':id')
  async detail(@Param('id') id: string, @Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    const parsed = pageQuerySchema.safeParse(lastValues(query));
    const viewer = parsed.success ? await this.viewer(parsed.data.t, parsed.data.lang) : null;
    if (!parsed.success || !viewer) return this.unauthorized(reply);
    const done = parsed.data.done;
    const notice = done === '1' ? 'done' : null;
    await this.renderDetail(reply, viewer, id, 200, notice);
  }

  @Post(':id/:action')
  async act(
    @Param('id') id: string,
    @Param('action') action: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const parsed = pageFormSchema.safeParse(lastValues(body));
    const viewer = parsed.success ? await this.viewer(parsed.data.t, parsed.data.lang) : null;
    if (!parsed.success || !viewer) return this.unauthorized(reply);
    if (!(ACTIONS as readonly string[]).includes(action) || !(await this.handoffs.findOne(id))) {
      return this.send(reply, 404, renderUnauthorizedPage());
    }
    const form = parsed.data;
    const by = `csm:${viewer.externalId}`;
    try {
      if (action === 'acknowledge') await this.handoffs.acknowledge(id, by);
      else if (action === 'resolve') {
        const outcome = form.outcome?.trim() ?? '';
        if (outcome === '') return this.renderDetail(reply, viewer, id, 400, 'outcome_required');
        await this.handoffs.resolve(id, by, outcome);
      } else {
        const note = form.note?.trim() ?? '';
        await this.handoffs.dismiss(id, by, note === '' ? null : note);
      }
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.Conflict) {
        return this.renderDetail(reply, viewer, id, 409, 'conflict');
      }
      throw error;
    }
    // Post/redirect/get: a reload does not repeat the action.
    void reply
      .status(303)
      .headers({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
      .header('location', `/csm/handoffs/${id}?${pageQuery(viewer.token, viewer.locale, { done: '1' })}`)
      .send();
  }

  private async renderDetail(
    reply: FastifyReply,
    viewer: Viewer,
    id: string,
    status: number,
    notice: 'done' | 'conflict' | 'outcome_required' | null,
  ): Promise<void> {
    const handoff = await this.handoffs.findOne(id);
    if (!handoff) return this.send(reply, 404, renderUnauthorizedPage().replace('Link not valid', 'Not found'));
    const history = await this.handoffs.historyOf(id);
    this.send(
      reply,
      status,
      renderDetailPage({ locale: viewer.locale, token: viewer.token, handoff, history, notice }),
    );
  }

  /** The CSM a valid token names (still a CSM), with the page language: `?lang=` or theirs. */
  private async viewer(token: string | undefined, lang: PageLocale | undefined): Promise<Viewer | null> {
    const access = this.signer.verify(token, this.clock.now());
    if (!access || token === undefined) return null;
    const rows: { externalId: string; locale: PageLocale }[] = await this.dataSource.query(
      `SELECT external_id AS "externalId", locale FROM csms WHERE id = $1`,
      [access.csmId],
    );
    const csm = rows[0];
    if (!csm) return null;
    return { token, csmId: access.csmId, externalId: csm.externalId, locale: lang ?? csm.locale };
  }

  private unauthorized(reply: FastifyReply): void {
    this.send(reply, 401, renderUnauthorizedPage());
  }

  private send(reply: FastifyReply, status: number, html: string): void {
    void reply.status(status).headers(HANDOFF_PAGE_HEADERS).send(html);
  }
}
