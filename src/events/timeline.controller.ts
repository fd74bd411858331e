import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { ApiKeyGuard } from '../common/api-key.guard';
import type { Page } from '../common/pagination';
import { parseOrThrow } from '../common/zod-issues';
import { referenceSchema, timelineQuerySchema } from './events.schemas';
import { type TimelineItem, TimelineService } from './timeline.service';

/**
 * Timelines live under the directory's paths; Fastify routes `/api/accounts/:externalId/timeline`
 * separately from the directory's `/api/accounts/:externalId`, so the two never collide.
 */
@Controller('api')
@UseGuards(ApiKeyGuard)
export class TimelineController {
  constructor(private readonly timelines: TimelineService) {}

  @Get('accounts/:externalId/timeline')
  account(@Param('externalId') externalId: string, @Query() query: unknown): Promise<Page<TimelineItem>> {
    return this.timelines.accountTimeline(idParam(externalId), parseOrThrow(timelineQuerySchema, query, 'query'));
  }

  @Get('contacts/:externalId/timeline')
  contact(@Param('externalId') externalId: string, @Query() query: unknown): Promise<Page<TimelineItem>> {
    return this.timelines.contactTimeline(idParam(externalId), parseOrThrow(timelineQuerySchema, query, 'query'));
  }
}

function idParam(value: string): string {
  return parseOrThrow(referenceSchema, value, 'external id in the URL');
}
