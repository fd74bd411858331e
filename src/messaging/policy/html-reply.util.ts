import type { FastifyReply } from 'fastify';
import { NEUTRAL_PAGE_HTML } from '../../tracking/neutral-page';

/** Headers of every unsubscribe page: never cached, never leaking the tokenised URL as a referrer. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
} as const;

/** Sends a page, or the neutral 404 page when there is none. */
export function sendPage(reply: FastifyReply, html: string | null, status = 200): FastifyReply {
  return reply
    .status(html === null ? 404 : status)
    .headers(PAGE_HEADERS)
    .send(html ?? NEUTRAL_PAGE_HTML);
}
