import { simpleParser } from 'mailparser';
import { dkimVerify, type DKIMResult, type DNSResolver } from 'mailauth';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMime } from '../src/messaging/send/mime-builder';
import { SmtpTransport } from '../src/messaging/send/transports/smtp.transport';
import { sampleOutgoingMail } from './support/outgoing-mail.fixture';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server';

/**
 * DKIM as a receiving mailbox provider checks it: SmtpTransport signs with a fresh RSA 2048
 * key, the message goes through a real SMTP server process, and mailauth verifies the
 * signature against the public key published (here: by a stub resolver) at
 * `<selector>._domainkey.<domain>`.
 */
const DOMAIN = 'acme.example';
const SELECTOR = 'tend2026';
const outgoing = sampleOutgoingMail;

/** A DNS resolver that knows one TXT record; anything else does not exist. */
function resolverWith(name: string, txt: string): DNSResolver {
  return (domain: string, rrtype: string) => {
    if (domain.toLowerCase() === name && rrtype === 'TXT') return Promise.resolve([[txt]]);
    return Promise.reject(Object.assign(new Error(`queryTxt ENOTFOUND ${domain}`), { code: 'ENOTFOUND' }));
  };
}

/** Header block and body, split at the first empty line. */
function splitMessage(raw: Buffer): { head: string; body: string } {
  const text = raw.toString('latin1');
  const at = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, at + 2), body: text.slice(at + 4) };
}

/** The h= list of a verified signature, lower case. */
function signedHeaders(result: DKIMResult): string[] {
  return (result.signingHeaders?.keys ?? '').split(':').map((h) => h.trim().toLowerCase());
}

describe('SmtpTransport DKIM signing, verified as a receiver would', () => {
  let smtp: TestSmtpServer;
  let tmpDir: string;
  let resolver: DNSResolver;
  let raw: Buffer;
  const mail = outgoing();

  const verify = async (message: Buffer | string, using: DNSResolver = resolver): Promise<DKIMResult> => {
    // strict: RFC 6376 / 8301 exactly, as the stricter mailbox providers check (a body hash
    // mismatch is then `fail`, where the lenient default says `neutral`).
    const { results } = await dkimVerify(message, { resolver: using, strict: true });
    expect(results).toHaveLength(1);
    return results[0]!;
  };

  beforeAll(async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    tmpDir = mkdtempSync(join(tmpdir(), 'tend-dkim-'));
    const privateKeyFile = join(tmpDir, 'dkim.pem');
    writeFileSync(privateKeyFile, privateKey, { mode: 0o600 });
    resolver = resolverWith(`${SELECTOR}._domainkey.${DOMAIN}`, `v=DKIM1; k=rsa; p=${publicKey.toString('base64')}`);

    smtp = await startSmtpServer();
    const transport = new SmtpTransport({
      url: smtp.url,
      poolSize: 1,
      dkim: { domain: DOMAIN, selector: SELECTOR, privateKeyFile },
    });
    try {
      await transport.send(mail);
    } finally {
      await transport.close();
    }
    // The server answers 250 only after the message is recorded.
    expect(smtp.received).toHaveLength(1);
    raw = smtp.received[0]!.raw;
  });
  afterAll(async () => {
    await smtp?.close();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  });

  it('carries a DKIM-Signature that verifies: pass, d= the domain, s= the selector, rsa-sha256', async () => {
    expect(splitMessage(raw).head).toMatch(/^DKIM-Signature: /);
    const result = await verify(raw);
    expect(result.status.result).toBe('pass');
    expect(result.signingDomain).toBe(DOMAIN);
    expect(result.selector).toBe(SELECTOR);
    expect(result.algo).toBe('rsa-sha256');
    expect(result.status.aligned).toBe(DOMAIN); // d= aligns with the From domain (DMARC)
  });

  it('signs exactly the message buildMime built (the body and headers are sent unchanged)', async () => {
    const built = splitMessage(buildMime(mail));
    const sent = splitMessage(raw);
    expect(sent.body).toBe(built.body);
    expect(sent.head.endsWith(built.head)).toBe(true);
  });

  it('covers From, Subject, Date, Message-ID, To, the MIME headers and List-Unsubscribe', async () => {
    const signed = signedHeaders(await verify(raw));
    for (const header of [
      'from',
      'subject',
      'date',
      'message-id',
      'to',
      'mime-version',
      'content-type',
      'list-unsubscribe',
    ]) {
      expect(signed).toContain(header);
    }
  });

  // RFC 8058 section 4: one-click counts only when both List-Unsubscribe headers are covered by
  // a valid DKIM signature (nodemailer's default header list omits List-Unsubscribe-Post).
  it('covers List-Unsubscribe-Post (RFC 8058 one-click)', async () => {
    expect(signedHeaders(await verify(raw))).toContain('list-unsubscribe-post');
  });

  it('fails verification when one character of the body is changed', async () => {
    const { head, body } = splitMessage(raw);
    const at = body.search(/[A-Za-z0-9+/]{40}/) + 20; // inside a base64 line of a part
    const changed = body[at] === 'A' ? 'B' : 'A';
    const tampered = `${head}\r\n${body.slice(0, at)}${changed}${body.slice(at + 1)}`;
    const result = await verify(tampered);
    expect(result.status.result).toBe('fail');
    expect(result.status.comment).toMatch(/body hash/i);
  });

  it('fails verification when a signed header is changed', async () => {
    const text = raw.toString('latin1');
    const tampered = text.replace(/^To: .*$/m, 'To: someone.else@customer.example');
    expect(tampered).not.toBe(text);
    expect((await verify(tampered)).status.result).toBe('fail');
  });

  it('fails verification against another key published under the selector', async () => {
    const other = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const wrong = resolverWith(
      `${SELECTOR}._domainkey.${DOMAIN}`,
      `v=DKIM1; k=rsa; p=${other.publicKey.toString('base64')}`,
    );
    expect((await verify(raw, wrong)).status.result).toBe('fail');
  });

  it('keeps the Japanese subject, sender name and body intact', async () => {
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(mail.subject);
    expect(parsed.from?.value).toEqual([{ name: '株式会社アクメ カスタマーサクセス', address: 'cs@acme.example' }]);
    expect(parsed.text).toBe(mail.text);
    expect(parsed.html).toBe(mail.html);
    expect(parsed.messageId).toBe(mail.messageIdHeader);
    expect(smtp.received[0]).toMatchObject({ from: 'cs@acme.example', to: ['ichiro.sato@customer.example'] });
  });
});
