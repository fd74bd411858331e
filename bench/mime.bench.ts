import Handlebars from 'handlebars';
import { randomUUID } from 'node:crypto';
import { buildMime } from '../src/messaging/send/mime-builder';
import { buildMessageIdHeader, type OutgoingMail } from '../src/messaging/send/outgoing-mail';
import { SmtpTransport } from '../src/messaging/send/transports/smtp.transport';
import { startSmtpServer } from '../test/support/smtp-server';

export interface MimeFigures {
  /** Personalise (Handlebars) + build base64 MIME, one core. */
  mimePerSecond: number;
  mimeMessages: number;
  /** End to end into a local smtp-server over a pool of `smtpConnections`. */
  smtpPerSecond: number;
  smtpMessages: number;
  smtpConnections: number;
}

const FROM = 'Acme CS <cs@acme.example>';

/** A compiled lifecycle email of realistic size (~12 KB of Japanese HTML), as MJML would leave it. */
function compiledTemplate(): HandlebarsTemplateDelegate<{ name: string; company: string; url: string }> {
  const block = `<tr><td style="padding:16px;font-family:'Hiragino Sans',Meiryo,sans-serif;font-size:15px;line-height:1.7;color:#333">
    {{name}}様、いつも{{company}}をご利用いただきありがとうございます。導入から一週間が経ちました。ダッシュボードの設定、
    チームメンバーの招待、最初のレポートの作成まで、三つの手順で活用を始められます。<a href="{{url}}">設定ガイドを見る</a></td></tr>`;
  return Handlebars.compile(
    `<!doctype html><html><head><meta charset="utf-8"></head><body><table width="600">${block.repeat(20)}</table></body></html>`,
  );
}

function mailFor(i: number, html: string): OutgoingMail {
  const id = randomUUID();
  return {
    messageId: id,
    messageIdHeader: buildMessageIdHeader(id, FROM),
    from: FROM,
    to: `person${i}@customer.example`,
    subject: `【Acme】山田${i}様、はじめの一歩`,
    html,
    text: html.replace(/<[^>]+>/g, ' '),
    date: new Date(),
    unsubscribeUrl: `https://tend.example/u/token-${id}`,
    unsubscribeMailto: 'unsubscribe@acme.example',
    oneClick: true,
  };
}

export async function benchMime(messages = 5000, smtpMessages = 2000, smtpConnections = 2): Promise<MimeFigures> {
  const template = compiledTemplate();
  const render = (i: number) => template({ name: `山田${i}`, company: 'Acme', url: `https://t.example/c/${i}` });
  for (let i = 0; i < 200; i += 1) buildMime(mailFor(i, render(i))); // warm up
  let start = performance.now();
  for (let i = 0; i < messages; i += 1) buildMime(mailFor(i, render(i)));
  const mimePerSecond = messages / ((performance.now() - start) / 1000);

  const server = await startSmtpServer();
  const transport = new SmtpTransport({ url: server.url, poolSize: smtpConnections });
  try {
    start = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < smtpMessages) {
        const i = next++;
        await transport.send(mailFor(i, render(i)));
      }
    };
    await Promise.all(Array.from({ length: smtpConnections * 4 }, lane));
    const smtpPerSecond = smtpMessages / ((performance.now() - start) / 1000);
    if (server.received.length !== smtpMessages) throw new Error('smtp bench lost messages');
    return {
      mimePerSecond: Math.round(mimePerSecond),
      mimeMessages: messages,
      smtpPerSecond: Math.round(smtpPerSecond),
      smtpMessages,
      smtpConnections,
    };
  } finally {
    await transport.close();
    await server.close();
  }
}

if (require.main === module) {
  benchMime().then(
    (figures) => console.log(JSON.stringify(figures)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
