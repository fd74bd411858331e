import addressparser from 'nodemailer/lib/addressparser';
import { encodeWord, foldLines, isPlainText, quoteString } from 'nodemailer/lib/mime-funcs';
import { domainToASCII } from 'node:url';
import { listUnsubscribeHeaders, type OutgoingMail } from './outgoing-mail';

const CRLF = '\r\n';
/** RFC 2045: base64 lines of at most 76 characters. */
const BASE64_LINE = 76;
/** Encoded words of at most 75 characters (RFC 2047), as nodemailer makes them. */
const ENCODED_WORD_MAX = 52;

/**
 * Builds the raw RFC 5322 message of a lifecycle mail: `multipart/alternative` with a
 * UTF-8 text part and an HTML part, both base64.
 *
 * Why not nodemailer's MailComposer: for this one fixed shape its stream pipeline was the
 * send path's bottleneck (about 770 messages/s for 10 KB of Japanese HTML on one core,
 * see docs/benchmarks.md); assembling the parts directly is an order of magnitude faster.
 * The RFC 2047 header encoding and address parsing still come from nodemailer's own
 * mime-funcs and addressparser, and the tests parse every message back with mailparser.
 */
export function buildMime(mail: OutgoingMail): Buffer {
  const boundary = `tend-alt-${mail.messageId}`;
  const headers: [string, string][] = [
    ['From', formatAddress(mail.from)],
    ['To', formatAddress(mail.to)],
    ['Subject', encodeText(mail.subject)],
    ['Date', formatDate(mail.date)],
    ['Message-ID', mail.messageIdHeader],
    ...Object.entries(listUnsubscribeHeaders(mail)),
    ['MIME-Version', '1.0'],
    ['Content-Type', `multipart/alternative; boundary="${boundary}"`],
  ];
  const head = headers.map(([name, value]) => foldHeader(name, value)).join(CRLF);
  return Buffer.from(
    head +
      CRLF +
      CRLF +
      part(boundary, 'text/plain', mail.text) +
      part(boundary, 'text/html', mail.html) +
      `--${boundary}--${CRLF}`,
    'latin1',
  );
}

function part(boundary: string, type: string, body: string): string {
  return (
    `--${boundary}${CRLF}Content-Type: ${type}; charset=utf-8${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}` +
    wrapBase64(Buffer.from(body, 'utf8').toString('base64')) +
    CRLF
  );
}

function wrapBase64(encoded: string): string {
  if (encoded.length <= BASE64_LINE) return encoded;
  const lines: string[] = [];
  for (let i = 0; i < encoded.length; i += BASE64_LINE) lines.push(encoded.slice(i, i + BASE64_LINE));
  return lines.join(CRLF);
}

/** Header text: as is when printable ASCII, else RFC 2047 base64 encoded words. */
function encodeText(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ');
  return isPlainText(clean) ? clean : encodeWord(clean, 'B', ENCODED_WORD_MAX);
}

/** `Name <local@domain>` with the name encoded when needed and the domain in IDNA form. */
export function formatAddress(value: string): string {
  const parsed = addressparser(value, { flatten: true })[0];
  if (!parsed || !('address' in parsed) || !parsed.address) throw new Error('Unparseable mail address');
  const at = parsed.address.lastIndexOf('@');
  const address =
    at < 0 ? parsed.address : `${parsed.address.slice(0, at)}@${domainToASCII(parsed.address.slice(at + 1))}`;
  if (!parsed.name) return address;
  const name = isPlainText(parsed.name) ? quoteString(parsed.name) : encodeWord(parsed.name, 'B', ENCODED_WORD_MAX);
  return `${name} <${address}>`;
}

/** RFC 5322 date in UTC, e.g. `Wed, 18 Nov 2026 02:00:00 +0000`. */
function formatDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** Folds long header lines at white space (RFC 5322 2.2.3); the values here carry no CR or LF. */
function foldHeader(name: string, value: string): string {
  const line = `${name}: ${value}`;
  return line.length <= 78 ? line : foldLines(line, 76).replace(/\r?\n/g, CRLF).trimEnd();
}
