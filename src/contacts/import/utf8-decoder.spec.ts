import { Readable } from 'node:stream';
import { DomainError } from '../../common/domain-error';
import { unfinishedTail, Utf8Decoder } from './utf8-decoder';

async function decode(chunks: Uint8Array[]): Promise<string[]> {
  const out: string[] = [];
  for await (const text of Readable.from(chunks).pipe(new Utf8Decoder())) out.push(text as string);
  return out;
}

describe('unfinishedTail', () => {
  it('finds a character cut short at the end, and nothing else', () => {
    const emoji = Buffer.from('😀', 'utf8'); // 4 bytes
    expect([0, 1, 2, 3, 4].map((n) => unfinishedTail(Buffer.concat([Buffer.from('a'), emoji.subarray(0, n)])))).toEqual(
      [0, 1, 2, 3, 0],
    );
    expect(unfinishedTail(Buffer.from('日本', 'utf8').subarray(0, 4))).toBe(1);
    expect(unfinishedTail(Buffer.from([0x80, 0x80, 0x80, 0x80]))).toBe(0);
    expect(unfinishedTail(new Uint8Array(0))).toBe(0);
  });
});

describe('Utf8Decoder', () => {
  it('decodes characters cut into single bytes, keeping a byte-order mark', async () => {
    const bytes = Buffer.from('\uFEFF日本 😀\n', 'utf8');
    const chunks = [...bytes].map((b) => Uint8Array.of(b));
    expect((await decode(chunks)).join('')).toBe('\uFEFF日本 😀\n');
  });

  it('fails on a stray byte, naming its line', async () => {
    const error = await decode([Buffer.from('a\nb\n'), Buffer.from([0x63, 0xff, 0x0a])]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).issues).toEqual([expect.objectContaining({ line: 3, path: '(file)' })]);
  });

  it('fails on a character cut short by a line feed', async () => {
    const error = await decode([Buffer.from([0x61, 0x0a, 0xe6, 0x97, 0x0a, 0x62])]).catch((e: unknown) => e);
    expect((error as DomainError).issues).toEqual([expect.objectContaining({ line: 2 })]);
  });
});
