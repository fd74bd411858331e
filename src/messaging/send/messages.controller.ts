import { Body, Controller, Post, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard } from '../../common/api-key.guard';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { parseOrThrow } from '../../common/zod-issues';
import { MessageQueue } from './message-queue.service';
import { enqueueMessageSchema } from './send.schemas';
import { SendRepository } from './send.repository';

export interface EnqueuedMessageView {
  id: string;
  status: string;
  template: string;
  kind: string;
  dueAt: string;
  created: boolean;
}

/** Admin API: queue one message. 202 when queued now, 200 when the idempotency key was seen. */
@Controller('api/messages')
@UseGuards(ApiKeyGuard)
export class MessagesController {
  constructor(
    private readonly queue: MessageQueue,
    private readonly repository: SendRepository,
  ) {}

  @Post()
  async enqueue(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<EnqueuedMessageView> {
    const input = parseOrThrow(enqueueMessageSchema, body);
    const contactId = await this.repository.contactIdByExternalId(input.contactExternalId);
    if (!contactId) throw new DomainError(ErrorCode.NotFound, 'No contact with that external id');
    const { message, created } = await this.queue.enqueue(this.repository.manager, {
      intentKey: `api:${input.idempotencyKey}`,
      contactId,
      template: input.template,
      data: input.data ?? {},
      ...(input.sendAt ? { dueAt: new Date(input.sendAt) } : {}),
      ...(input.expiresAt ? { expiresAt: new Date(input.expiresAt) } : {}),
    });
    if (message.contactId !== contactId || message.template !== input.template) {
      throw new DomainError(ErrorCode.Conflict, 'Idempotency key already used for a different message');
    }
    void reply.status(created ? 202 : 200);
    return {
      id: message.id,
      status: message.status,
      template: message.template,
      kind: message.kind,
      dueAt: message.dueAt.toISOString(),
      created,
    };
  }
}
