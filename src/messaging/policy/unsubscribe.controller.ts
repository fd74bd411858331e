import { Body, Controller, Get, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { UNSUBSCRIBE_PATH } from '../messaging.contracts';
import { sendPage } from './html-reply.util';
import { UnsubscribeService } from './unsubscribe.service';

/**
 * Pages of the unsubscribe URL. GET never changes state (link scanners prefetch it).
 * The one-click `POST /u/<token>` is a plain Fastify route (any body): see PolicyRawRoutes.
 */
@Controller(UNSUBSCRIBE_PATH.slice(1))
export class UnsubscribeController {
  constructor(private readonly unsubscribe: UnsubscribeService) {}

  @Get(':token')
  async confirm(@Param('token') token: string, @Res() reply: FastifyReply): Promise<void> {
    const page = await this.unsubscribe.confirmationPage(token);
    void sendPage(reply, page?.html ?? null);
  }

  @Get(':token/preferences')
  async preferences(@Param('token') token: string, @Res() reply: FastifyReply): Promise<void> {
    const page = await this.unsubscribe.preferencesPage(token);
    void sendPage(reply, page?.html ?? null);
  }

  @Post(':token/preferences')
  async savePreferences(
    @Param('token') token: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const result = await this.unsubscribe.savePreferences(token, body);
    if (result === 'invalid') {
      const page = await this.unsubscribe.preferencesPage(token);
      void sendPage(reply, page?.html ?? null, 400);
      return;
    }
    void sendPage(reply, result?.html ?? null);
  }
}
