import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface SendGridRequest {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface SendGridStandIn {
  baseUrl: string;
  requests: SendGridRequest[];
  /** Answers for the next requests, in order; after them every request gets 202. */
  script(answers: ScriptedAnswer[]): void;
  close(): Promise<void>;
}

/** node:http on 127.0.0.1 standing in for SendGrid's POST /v3/mail/send. */
export async function startSendGridStandIn(): Promise<SendGridStandIn> {
  const requests: SendGridRequest[] = [];
  let queue: ScriptedAnswer[] = [];
  let seq = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v3/mail/send') {
        res.writeHead(404).end();
        return;
      }
      requests.push({
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      const answer = queue.shift() ?? { status: 202 };
      seq += 1;
      const headers: Record<string, string> = {
        ...(answer.status === 202 ? { 'x-message-id': `sg-${seq}` } : {}),
        ...answer.headers,
      };
      if (answer.body === undefined) {
        res.writeHead(answer.status, headers).end();
      } else {
        res
          .writeHead(answer.status, { 'content-type': 'application/json', ...headers })
          .end(JSON.stringify(answer.body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    script(answers) {
      queue = [...answers];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
