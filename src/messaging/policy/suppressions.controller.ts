import { Body, Controller, Get, HttpCode, Inject, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard } from '../../common/api-key.guard';
import type { Page } from '../../common/pagination';
import { CursorSealer } from '../../common/sealed-cursor';
import { parseOrThrow } from '../../common/zod-issues';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { listQuerySchema } from '../../contacts/contacts.schemas';
import type { SuppressionRow } from './policy.repository';
import { addSuppressionSchema, removeSuppressionSchema } from './suppressions.schemas';
import { SuppressionsService } from './suppressions.service';

export interface SuppressionView {
  email: string;
  reason: string;
  source: string;
  note: string | null;
  createdAt: string;
}

const toView = (r: SuppressionRow): SuppressionView => ({
  email: r.email,
  reason: r.reason,
  source: r.source,
  note: r.note,
  createdAt: r.createdAt.toISOString(),
});

/** Admin API of the suppression list. Addresses travel only in bodies, never in URLs. */
@Controller('api/suppressions')
@UseGuards(ApiKeyGuard)
export class SuppressionsController {
  /** The list is keyed by address: its cursor is sealed, so no address appears in a URL. */
  private readonly cursors: CursorSealer;

  constructor(
    private readonly suppressions: SuppressionsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.cursors = new CursorSealer(config.tracking.keys[0]!.secret, 'suppressions');
  }

  @Get()
  async list(@Query() query: unknown): Promise<Page<SuppressionView>> {
    const q = parseOrThrow(listQuerySchema, query, 'query');
    const after = q.cursor === undefined ? undefined : String(this.cursors.open(q.cursor, 1)[0]);
    const items = (await this.suppressions.page(after, q.limit)).map(toView);
    const last = items.at(-1);
    return { items, nextCursor: items.length === q.limit && last ? this.cursors.seal([last.email]) : null };
  }

  /** 201 when added, 200 when the address was already suppressed (its first entry is kept). */
  @Post()
  async add(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<SuppressionView> {
    const input = parseOrThrow(addSuppressionSchema, body);
    const { created, suppression } = await this.suppressions.add(input);
    void reply.status(created ? 201 : 200);
    return toView(suppression);
  }

  @Post('remove')
  @HttpCode(204)
  async remove(@Body() body: unknown): Promise<void> {
    await this.suppressions.remove(parseOrThrow(removeSuppressionSchema, body).email);
  }
}
