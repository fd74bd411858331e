import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiKeyGuard } from '../common/api-key.guard';
import { EventsService, type IngestResult } from './events.service';

@Controller('api/events')
@UseGuards(ApiKeyGuard)
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /**
   * `{ events: [...] }`, 1..1,000 per batch (see events.schemas.ts for the bounds and
   * how they fit the JSON body limit). Answers 200 with what was stored, skipped as a
   * duplicate, or rejected for naming an unknown account or contact.
   */
  @Post()
  @HttpCode(200)
  ingest(@Body() body: unknown): Promise<IngestResult> {
    return this.events.ingest(body);
  }
}
