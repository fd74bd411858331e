import { Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { DomainError, ErrorCode } from '../../common/domain-error';

const LF = 0x0a;

/**
 * Decodes a UTF-8 byte stream into strings (object mode: one string per chunk,
 * never empty, never ending inside a character). Bytes that are not UTF-8 fail
 * the stream with a 400 naming the line they are on: replacing them with U+FFFD,
 * as Buffer#toString does, would store garbled names and ids from a file saved
 * in another encoding (Shift_JIS from Excel). A byte-order mark is kept for the
 * readers to skip at the start of the body.
 */
export class Utf8Decoder extends Transform {
  // Each decode call gets whole characters only (see `carry`), so the decoder keeps no
  // state between chunks and a failure can be pinned to a line of the chunk that has it.
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** The bytes of a character cut by the chunk boundary, decoded with the next chunk. */
  private carry: Uint8Array = new Uint8Array(0);
  /** Line feeds passed so far. */
  private lines = 0;

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const whole = bytes.length - unfinishedTail(bytes);
    this.carry = bytes.subarray(whole);
    const complete = bytes.subarray(0, whole);
    let text: string;
    try {
      text = this.decoder.decode(complete);
    } catch {
      callback(notUtf8(this.lines + 1 + lineOfInvalidBytes(this.decoder, complete)));
      return;
    }
    this.lines += countLineFeeds(complete);
    callback(null, text === '' ? undefined : text);
  }

  override _flush(callback: TransformCallback): void {
    // A character cut short by the end of the body; the carry holds no line feed.
    callback(this.carry.length === 0 ? null : notUtf8(this.lines + 1));
  }
}

/**
 * How many bytes at the end of `bytes` start a UTF-8 character without finishing it
 * (0 to 3). Anything malformed is left in place for the decoder to reject.
 */
export function unfinishedTail(bytes: Uint8Array): number {
  const end = bytes.length;
  for (let i = end - 1; i >= 0 && i >= end - 3; i--) {
    const byte = bytes[i]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: its lead byte is further back
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return end - i < length ? end - i : 0;
  }
  return 0;
}

/**
 * The 0-based line of `bytes` (whole characters, known to hold bad ones) where the
 * first bytes that are not UTF-8 are. A line feed is never part of a multi-byte
 * character, so each line can be decoded on its own.
 */
function lineOfInvalidBytes(decoder: TextDecoder, bytes: Uint8Array): number {
  let start = 0;
  for (let line = 0; ; line++) {
    const feed = bytes.indexOf(LF, start);
    const end = feed === -1 ? bytes.length : feed + 1;
    try {
      decoder.decode(bytes.subarray(start, end));
    } catch {
      return line;
    }
    if (feed === -1) return line;
    start = end;
  }
}

function countLineFeeds(bytes: Uint8Array): number {
  let count = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) count += 1;
  return count;
}

function notUtf8(line: number): DomainError {
  return new DomainError(ErrorCode.Invalid, `Line ${line} is not valid UTF-8; nothing was imported`, [
    {
      line,
      path: '(file)',
      message: 'has bytes that are not UTF-8; save the file as UTF-8 (in Excel: CSV UTF-8) and send it again',
    },
  ]);
}
