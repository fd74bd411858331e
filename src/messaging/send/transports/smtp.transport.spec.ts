import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { OutgoingMail } from '../outgoing-mail';
import { SendFailure } from '../retry-policy.util';
import { classifySmtpError, SmtpTransport } from './smtp.transport';

describe('classifySmtpError', () => {
  it('retries a 4xx answer, whatever the command', () => {
    for (const [responseCode, command] of [
      [421, 'CONN'],
      [450, 'RCPT TO'],
      [451, 'DATA'],
      [452, 'MAIL FROM'],
    ] as const) {
      const failure = classifySmtpError({ message: 'try later', code: 'EMESSAGE', responseCode, command });
      expect(failure).toBeInstanceOf(SendFailure);
      expect(failure.kind).toBe('retry');
    }
  });

  it('dead-letters a 5xx answer at once, whatever the command', () => {
    for (const [responseCode, command] of [
      [550, 'RCPT TO'],
      [552, 'DATA'],
      [554, 'DATA'],
      [535, 'AUTH PLAIN'],
    ] as const) {
      expect(classifySmtpError({ message: 'no', code: 'EENVELOPE', responseCode, command }).kind).toBe('permanent');
    }
  });

  it('says which code failed in its message, bounded in length', () => {
    const failure = classifySmtpError({ message: '5.1.1 no such user'.repeat(100), responseCode: 550 });
    expect(failure.message).toMatch(/^smtp 550: 5\.1\.1 no such user/);
    expect(failure.message.length).toBeLessThanOrEqual(500);
    expect(classifySmtpError({ message: 'refused', code: 'ESOCKET', command: 'CONN' }).message).toBe(
      'smtp ESOCKET: refused',
    );
  });

  it('retries connection, DNS and authentication errors without a reply code', () => {
    expect(classifySmtpError({ message: 'refused', code: 'ESOCKET', errno: 'ECONNREFUSED' }).kind).toBe('retry');
    expect(classifySmtpError({ message: 'no host', code: 'EDNS' }).kind).toBe('retry');
    expect(classifySmtpError({ message: 'bad login', code: 'EAUTH', command: 'AUTH PLAIN' }).kind).toBe('retry');
  });

  it('retries a failure at a named stage before DATA', () => {
    for (const command of ['EHLO', 'HELO', 'LHLO', 'STARTTLS', 'AUTH LOGIN', 'MAIL FROM', 'RCPT TO']) {
      expect(classifySmtpError({ message: 'socket hang up', code: 'ESOCKET', command }).kind).toBe('retry');
    }
  });

  it('retries failures before any session: refused (as nodemailer reports it), connect or greeting timeout', () => {
    const refused = { message: 'connect ECONNREFUSED 127.0.0.1:2525', code: 'ESOCKET', errno: -111, command: 'CONN' };
    expect(classifySmtpError(refused).kind).toBe('retry');
    expect(classifySmtpError({ message: 'Connection timeout', code: 'ETIMEDOUT', command: 'CONN' }).kind).toBe('retry');
    expect(classifySmtpError({ message: 'Greeting never received', code: 'ETIMEDOUT', command: 'CONN' }).kind).toBe(
      'retry',
    );
  });

  it('holds as unknown a dropped connection or socket timeout: nodemailer cannot say whether DATA went out', () => {
    const dropped = { message: 'Connection closed unexpectedly', code: 'ECONNECTION', command: 'CONN' };
    expect(classifySmtpError(dropped).kind).toBe('unknown');
    expect(classifySmtpError({ message: 'Timeout', code: 'ETIMEDOUT', command: 'CONN' }).kind).toBe('unknown');
  });

  it('holds as unknown a failure after DATA without a reply code: the server may have taken it', () => {
    expect(classifySmtpError({ message: 'socket closed', code: 'ESOCKET', command: 'DATA' }).kind).toBe('unknown');
    expect(classifySmtpError({ message: 'Timeout', code: 'ETIMEDOUT', command: 'DATA' }).kind).toBe('unknown');
    expect(classifySmtpError({ message: 'stream error', code: 'ESTREAM' }).kind).toBe('unknown');
  });

  it('holds as unknown anything that is not an SMTP error at all', () => {
    expect(classifySmtpError(new Error('boom')).kind).toBe('unknown');
    expect(classifySmtpError('boom')).toMatchObject({ kind: 'unknown', message: 'smtp error: boom' });
    expect(classifySmtpError(undefined).kind).toBe('unknown');
  });
});

/**
 * The errors nodemailer really produces, from a scripted SMTP peer on 127.0.0.1: the
 * classification above is only as good as its assumptions about their shape.
 */
describe('SmtpTransport against a misbehaving SMTP peer', () => {
  type Behaviour = 'drop-at-mail-from' | 'drop-after-data' | 'silent-after-data' | 'reply-after-data';

  async function scriptedPeer(behaviour: Behaviour, reply = '250 OK queued'): Promise<{ url: string; close(): void }> {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.write('220 scripted ESMTP\r\n');
      let buffer = '';
      let inData = false;
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('latin1');
        for (;;) {
          if (inData) {
            const end = buffer.indexOf('\r\n.\r\n');
            if (end < 0) return;
            buffer = buffer.slice(end + 5);
            inData = false;
            if (behaviour === 'drop-after-data') return void socket.destroy();
            if (behaviour === 'silent-after-data') return;
            socket.write(`${reply}\r\n`);
            continue;
          }
          const eol = buffer.indexOf('\r\n');
          if (eol < 0) return;
          const verb = buffer.slice(0, 4).toUpperCase();
          buffer = buffer.slice(eol + 2);
          if (verb === 'EHLO') socket.write('250-scripted\r\n250 8BITMIME\r\n');
          else if (verb === 'MAIL' && behaviour === 'drop-at-mail-from') return void socket.destroy();
          else if (verb === 'DATA') {
            socket.write('354 go ahead\r\n');
            inData = true;
          } else if (verb === 'QUIT') return void socket.end('221 bye\r\n');
          else socket.write('250 OK\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close() {
        for (const socket of sockets) socket.destroy();
        server.close();
      },
    };
  }

  const mail: OutgoingMail = {
    messageId: '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b',
    messageIdHeader: '<3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b@acme.example>',
    from: 'Acme <cs@acme.example>',
    to: 'ichiro.sato@customer.example',
    subject: '【Acme】はじめの一歩',
    html: '<p>こんにちは</p>',
    text: 'こんにちは',
    date: new Date('2026-11-18T02:00:00Z'),
    unsubscribeUrl: 'https://tend.example/u/token',
    unsubscribeMailto: undefined,
    oneClick: true,
  };

  async function sendThrough(url: string): Promise<unknown> {
    const transport = new SmtpTransport({ url, poolSize: 1 });
    try {
      return await transport.send(mail);
    } catch (error) {
      return error;
    } finally {
      await transport.close();
    }
  }

  it('sends and reports the server answer as the provider id', async () => {
    const peer = await scriptedPeer('reply-after-data', '250 2.0.0 Ok: queued as 4XyZ');
    try {
      expect(await sendThrough(peer.url)).toEqual({ providerMessageId: '250 2.0.0 Ok: queued as 4XyZ' });
    } finally {
      peer.close();
    }
  });

  it('retries when nothing listens (connection refused)', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const failure = await sendThrough(`smtp://127.0.0.1:${port}`);
    expect(failure).toBeInstanceOf(SendFailure);
    expect(failure).toMatchObject({ kind: 'retry' });
  });

  // nodemailer reports this exactly like a drop after DATA (ECONNECTION, command CONN), so it is
  // held as unknown too: never resending what the server may have taken is the safe side
  // (the worker still retries operational mail, where at-least-once is right).
  it('holds as unknown a connection dropped at MAIL FROM (indistinguishable from one after DATA)', async () => {
    const peer = await scriptedPeer('drop-at-mail-from');
    try {
      expect(await sendThrough(peer.url)).toMatchObject({ kind: 'unknown' });
    } finally {
      peer.close();
    }
  });

  it('retries a 4xx and dead-letters a 5xx given at end of DATA', async () => {
    const busy = await scriptedPeer('reply-after-data', '451 4.3.0 try again later');
    const refused = await scriptedPeer('reply-after-data', '554 5.7.1 rejected by policy');
    try {
      const retry = await sendThrough(busy.url);
      expect(retry).toBeInstanceOf(SendFailure);
      expect(retry).toMatchObject({ kind: 'retry' });
      expect((retry as SendFailure).message).toMatch(/^smtp 451: .*try again later/);
      const permanent = await sendThrough(refused.url);
      expect(permanent).toMatchObject({ kind: 'permanent' });
      expect((permanent as SendFailure).message).toMatch(/^smtp 554: .*rejected by policy/);
    } finally {
      busy.close();
      refused.close();
    }
  });

  // Reliability checklist item 3: the server may have taken the message; never blindly resent.
  it('holds as unknown a connection dropped after the message body was sent', async () => {
    const peer = await scriptedPeer('drop-after-data');
    try {
      expect(await sendThrough(peer.url)).toMatchObject({ kind: 'unknown' });
    } finally {
      peer.close();
    }
  });

  it('keeps no recipient address in the reason it stores', () => {
    const failure = classifySmtpError({
      message: '550 5.1.1 <taro@example.jp>: Recipient address rejected',
      responseCode: 550,
      command: 'RCPT TO',
    });
    expect(failure.message).not.toContain('taro@example.jp');
    expect(failure.message).toContain('550 5.1.1 <[email]>');
  });
});
