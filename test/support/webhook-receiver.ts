import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  path: string;
  body: unknown;
  /** performance.now() when the request body was complete. */
  at: number;
}

export interface WebhookReceiver {
  port: number;
  url(path: string): string;
  received: ReceivedHook[];
  close(): Promise<void>;
}

/**
 * A local Slack-style incoming webhook on 127.0.0.1: answers `ok`, except paths starting
 * with `/redirect`, which answer 302 to `/moved` (a client that followed would show up there).
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text
      }
      received.push({ path: request.url ?? '', body, at: performance.now() });
      if ((request.url ?? '').startsWith('/redirect')) {
        response.writeHead(302, { location: `http://127.0.0.1:${port}/moved` }).end();
      } else {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
