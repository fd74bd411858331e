/**
 * Splits an expression into tokens (see expression.parser.ts for the language). A dotted
 * name such as `account.attributes.2fa` is one token, so attribute keys may start with a
 * digit and no space may sit around the dots. PURE.
 */
import type { ComparisonOperator, DurationUnit, Span } from './expression.types';

export const KEYWORDS = ['and', 'or', 'not', 'in', 'true', 'false', 'null'] as const;
export type Keyword = (typeof KEYWORDS)[number];

export type OperatorText = ComparisonOperator | '+' | '-' | '*' | '/' | '%';
export type PunctuationText = '(' | ')' | '[' | ']' | ',';

export type Token =
  | { kind: 'number'; value: number; span: Span }
  | { kind: 'duration'; amount: number; unit: DurationUnit; span: Span }
  | { kind: 'string'; value: string; span: Span }
  | { kind: 'name'; path: string[]; span: Span }
  | { kind: 'keyword'; keyword: Keyword; span: Span }
  | { kind: 'operator'; operator: OperatorText; span: Span }
  | { kind: 'punctuation'; punctuation: PunctuationText; span: Span }
  | { kind: 'end'; span: Span };

/** A problem found while reading the text; the parser turns it into an issue. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly span: Span,
  ) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}

/** Words written in other languages' style, and what to write instead. */
const FOREIGN_OPERATORS: readonly [string, string][] = [
  ['===', "unknown operator '===': use '=='"],
  ['!==', "unknown operator '!==': use '!='"],
  ['&&', "unknown operator '&&': use 'and'"],
  ['||', "unknown operator '||': use 'or'"],
  ['<>', "unknown operator '<>': use '!='"],
  ['=>', "unknown operator '=>': use '>='"],
  ['=<', "unknown operator '=<': use '<='"],
  ['**', "unknown operator '**': multiply with '*'"],
];

const OPERATORS: readonly OperatorText[] = ['==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%'];
const PUNCTUATION: readonly PunctuationText[] = ['(', ')', '[', ']', ','];

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isNameStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isNameChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
const isKeyword = (word: string): word is Keyword => (KEYWORDS as readonly string[]).includes(word);

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c)) {
      const token = readNumber(source, start);
      tokens.push(token);
      i = token.span.end;
      continue;
    }
    if (c === "'" || c === '"') {
      const token = readString(source, start);
      tokens.push(token);
      i = token.span.end;
      continue;
    }
    if (isNameStart(c)) {
      const token = readName(source, start);
      tokens.push(token);
      i = token.span.end;
      continue;
    }
    const foreign = FOREIGN_OPERATORS.find(([text]) => source.startsWith(text, i));
    if (foreign) throw new ExpressionSyntaxError(foreign[1], { start, end: start + foreign[0].length });
    const operator = OPERATORS.find((op) => source.startsWith(op, i));
    if (operator) {
      tokens.push({ kind: 'operator', operator, span: { start, end: start + operator.length } });
      i += operator.length;
      continue;
    }
    const punctuation = PUNCTUATION.find((p) => p === c);
    if (punctuation) {
      tokens.push({ kind: 'punctuation', punctuation, span: { start, end: start + 1 } });
      i++;
      continue;
    }
    throw new ExpressionSyntaxError(unexpectedCharacterMessage(source, i), { start, end: start + 1 });
  }
  tokens.push({ kind: 'end', span: { start: source.length, end: source.length } });
  return tokens;
}

function unexpectedCharacterMessage(source: string, i: number): string {
  const c = source[i]!;
  if (c === '=') return "unknown operator '=': use '==' to compare";
  if (c === '!') return "unknown operator '!': use 'not'";
  if (c === '&') return "unknown operator '&': use 'and'";
  if (c === '|') return "unknown operator '|': use 'or'";
  if (c === '.' && isDigit(source[i + 1])) return "a number starts with a digit: write '0.5', not '.5'";
  if (c === '.') return "unexpected '.': a name has no space around its dots (account.logins_14d)";
  const codePoint = source.codePointAt(i) ?? 0;
  return `unexpected character '${String.fromCodePoint(codePoint)}'`;
}

/** Digits with optional `_` between them: `1_000`. */
function readDigits(source: string, start: number): number {
  let i = start;
  while (isDigit(source[i]) || (source[i] === '_' && isDigit(source[i - 1]) && isDigit(source[i + 1]))) i++;
  return i;
}

function readNumber(source: string, start: number): Token {
  let i = readDigits(source, start);
  let fraction = false;
  if (source[i] === '.' && isDigit(source[i + 1])) {
    fraction = true;
    i = readDigits(source, i + 1);
  } else if (source[i] === '.') {
    throw new ExpressionSyntaxError(`expected digits after '${source.slice(start, i + 1)}'`, {
      start,
      end: i + 1,
    });
  }
  const text = source.slice(start, i).replaceAll('_', '');
  const unit = source[i];
  if ((unit === 'm' || unit === 'h' || unit === 'd' || unit === 'w') && !isNameChar(source[i + 1])) {
    const span = { start, end: i + 1 };
    if (fraction) {
      throw new ExpressionSyntaxError(
        `a duration is a whole number: write '${source.slice(start, i + 1)}' in a smaller unit`,
        span,
      );
    }
    return { kind: 'duration', amount: Number(text), unit, span };
  }
  if (isNameChar(source[i]) || source[i] === '_') {
    let end = i;
    while (isNameChar(source[end])) end++;
    throw new ExpressionSyntaxError(
      `invalid number '${source.slice(start, end)}': numbers are written 3, 2.5 or 1_000, durations 30m, 12h, 14d or 2w`,
      { start, end },
    );
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw new ExpressionSyntaxError('number too large', { start, end: i });
  return { kind: 'number', value, span: { start, end: i } };
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
};

function readString(source: string, start: number): Token {
  const quote = source[start]!;
  let value = '';
  let i = start + 1;
  for (;;) {
    const c = source[i];
    if (c === undefined || c === '\n' || c === '\r') {
      throw new ExpressionSyntaxError(`unterminated string: expected ${quote} to close it`, { start, end: i });
    }
    if (c === quote) return { kind: 'string', value, span: { start, end: i + 1 } };
    if (c === '\\') {
      const next = source[i + 1];
      if (next === 'u') {
        const hex = source.slice(i + 2, i + 6);
        const span = { start: i, end: Math.min(i + 6, source.length) };
        if (!/^[0-9A-Fa-f]{4}$/.test(hex)) {
          throw new ExpressionSyntaxError('expected 4 hex digits after \\u (e.g. \\u00e9)', span);
        }
        const code = parseInt(hex, 16);
        if (code === 0) throw new ExpressionSyntaxError('a string cannot hold the character \\u0000', span);
        if (code >= 0xd800 && code <= 0xdfff) {
          throw new ExpressionSyntaxError('\\u escapes of surrogate halves are not allowed: write the character', span);
        }
        value += String.fromCharCode(code);
        i += 6;
        continue;
      }
      const escaped = next === undefined ? undefined : ESCAPES[next];
      if (escaped === undefined) {
        throw new ExpressionSyntaxError(
          `unknown escape '\\${next ?? ''}': use \\\\, \\', \\", \\n, \\r, \\t or \\uXXXX`,
          { start: i, end: Math.min(i + 2, source.length) },
        );
      }
      value += escaped;
      i += 2;
      continue;
    }
    if (c === '\0')
      throw new ExpressionSyntaxError('a string cannot hold the character \\u0000', { start: i, end: i + 1 });
    value += c;
    i++;
  }
}

function readName(source: string, start: number): Token {
  let i = start;
  while (isNameChar(source[i])) i++;
  const path = [source.slice(start, i)];
  while (source[i] === '.') {
    const partStart = i + 1;
    let end = partStart;
    while (isNameChar(source[end])) end++;
    if (end === partStart) {
      throw new ExpressionSyntaxError(`expected a name after '${source.slice(start, partStart)}'`, {
        start,
        end: partStart,
      });
    }
    path.push(source.slice(partStart, end));
    i = end;
  }
  const span = { start, end: i };
  const word = path[0]!;
  if (path.length === 1 && isKeyword(word)) return { kind: 'keyword', keyword: word, span };
  return { kind: 'name', path, span };
}
