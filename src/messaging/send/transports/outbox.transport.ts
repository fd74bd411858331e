import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildMime } from '../mime-builder';
import type { OutgoingMail } from '../outgoing-mail';
import { MailTransport, type TransportResult } from './mail-transport';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Writes `<outboxDir>/<message id>.eml` atomically (temp file + rename); nothing leaves the machine. */
export class OutboxTransport extends MailTransport {
  readonly kind = 'outbox' as const;
  private ready: Promise<unknown> | undefined;

  constructor(readonly dir: string) {
    super();
  }

  fileOf(messageId: string): string {
    if (!UUID.test(messageId)) throw new Error('Outbox ids are message UUIDs');
    return join(this.dir, `${messageId.toLowerCase()}.eml`);
  }

  override async send(mail: OutgoingMail): Promise<TransportResult> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    const raw = buildMime(mail);
    const target = this.fileOf(mail.messageId);
    const temp = join(this.dir, `.${mail.messageId}.${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(temp, raw, { flag: 'wx' });
    await rename(temp, target);
    return { providerMessageId: null };
  }

  override async lookup(messageId: string): Promise<'accepted' | 'unknown'> {
    try {
      await access(this.fileOf(messageId));
      return 'accepted';
    } catch {
      return 'unknown';
    }
  }

  /** The stored message, or undefined. */
  async read(messageId: string): Promise<Buffer | undefined> {
    if (!UUID.test(messageId)) return undefined;
    try {
      return await readFile(this.fileOf(messageId));
    } catch {
      return undefined;
    }
  }

  /** Message ids of the newest files (for listing when the database has no row, e.g. tests). */
  async recent(limit: number): Promise<{ id: string; mtime: Date }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const files = await Promise.all(
      names
        .filter((n) => n.endsWith('.eml'))
        .map(async (n) => ({ id: n.slice(0, -4), mtime: (await stat(join(this.dir, n))).mtime })),
    );
    return files.sort((a, b) => b.mtime.getTime() - a.mtime.getTime()).slice(0, limit);
  }
}
