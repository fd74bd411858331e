import { Controller, Get, Inject, Param, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiKeyGuard } from '../../common/api-key.guard';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { parseOrThrow } from '../../common/zod-issues';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { SendRepository } from './send.repository';
import { OutboxTransport } from './transports/outbox.transport';

export interface OutboxItemView {
  id: string;
  to: string;
  subject: string | null;
  createdAt: string;
  sentAt: string | null;
}

/** The outbox transport's messages (development and trials): list them and read one as .eml. */
@Controller('api/outbox')
@UseGuards(ApiKeyGuard)
export class OutboxController {
  private readonly outbox: OutboxTransport;

  constructor(
    private readonly repository: SendRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.outbox = new OutboxTransport(config.mail.outboxDir);
  }

  @Get()
  async list(@Query('limit') limit?: string): Promise<{ items: OutboxItemView[] }> {
    const n = parseOrThrow(z.coerce.number().int().min(1).max(500).default(50), limit, 'limit');
    const rows = await this.repository.recentOutbox(n);
    return {
      items: rows.map((r) => ({
        id: r.id,
        to: r.contactExternalId,
        subject: r.subject,
        createdAt: r.createdAt.toISOString(),
        sentAt: r.sentAt?.toISOString() ?? null,
      })),
    };
  }

  @Get(':id')
  async read(@Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    const messageId = parseOrThrow(z.uuid('must be a message id'), id, 'message id');
    const raw = await this.outbox.read(messageId);
    if (!raw) throw new DomainError(ErrorCode.NotFound, 'No outbox message with that id');
    void reply.header('content-type', 'message/rfc822').header('cache-control', 'no-store');
    return raw;
  }
}
