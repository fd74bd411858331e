import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logger } from '../../common/logger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { UNSUBSCRIBE_PATH } from '../messaging.contracts';
import { sendPage } from './html-reply.util';
import { SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER } from './sendgrid-signature.util';
import { SendgridWebhookService } from './sendgrid-webhook.service';
import { UnsubscribeService } from './unsubscribe.service';

export const SENDGRID_WEBHOOK_PATH = '/webhooks/sendgrid';
/** A one-click body is one short field; anything up to this size is accepted and ignored. */
const ONE_CLICK_BODY_LIMIT = 64 * 1024;

/**
 * Routes that need the raw request body, registered as plain Fastify routes in
 * their own encapsulated plugin so their catch-all buffer parser never touches
 * the JSON routes of the rest of the app:
 * - `POST /u/:token`: RFC 8058 one-click unsubscribe; urlencoded, multipart or any other body.
 * - `POST /webhooks/sendgrid`: the signature covers the exact bytes received.
 * Registered in onModuleInit, i.e. during app.init(), before fastify.ready().
 */
@Injectable()
export class PolicyRawRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly unsubscribe: UnsubscribeService,
    private readonly webhook: SendgridWebhookService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as { getInstance(): FastifyInstance } | undefined;
    if (adapter === undefined) return;
    const fastify = adapter.getInstance();
    void fastify.register(async (instance) => {
      instance.removeAllContentTypeParsers();
      instance.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      instance.post(
        `${UNSUBSCRIBE_PATH}/:token`,
        { bodyLimit: ONE_CLICK_BODY_LIMIT },
        (request: FastifyRequest<{ Params: { token: string } }>, reply) => this.oneClick(request, reply),
      );
      instance.post(SENDGRID_WEBHOOK_PATH, { bodyLimit: this.config.http.jsonBodyLimitBytes }, (request, reply) =>
        this.sendgrid(request, reply),
      );
    });
  }

  private async oneClick(request: FastifyRequest<{ Params: { token: string } }>, reply: FastifyReply): Promise<void> {
    try {
      // The body is not needed: the token names the message, and the method (POST) is the consent.
      const page = await this.unsubscribe.unsubscribe(request.params.token, 'one_click');
      await sendPage(reply, page?.html ?? null);
    } catch (error: unknown) {
      logger.error({ err: error }, 'one-click unsubscribe failed');
      await reply.status(500).header('cache-control', 'no-store').send({ error: 'internal' });
    }
  }

  private async sendgrid(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    try {
      const outcome = await this.webhook.handle(
        {
          signature: headerValue(request.headers[SENDGRID_SIGNATURE_HEADER]),
          timestamp: headerValue(request.headers[SENDGRID_TIMESTAMP_HEADER]),
        },
        raw,
      );
      switch (outcome.kind) {
        case 'unauthorized':
          await reply.status(401).send({ error: 'unauthorized', message: 'Invalid webhook signature' });
          return;
        case 'invalid':
          await reply.status(400).send({ error: 'invalid', message: 'Body must be a JSON array of events' });
          return;
        case 'accepted':
          await reply
            .status(200)
            .send({ received: outcome.received, stored: outcome.stored, skipped: outcome.skipped });
          return;
      }
    } catch (error: unknown) {
      logger.error({ err: error }, 'sendgrid webhook failed');
      await reply.status(500).send({ error: 'internal', message: 'Internal server error' });
    }
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
