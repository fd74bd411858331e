/** Line and column of an offset in an expression text, for messages. PURE. */
export interface TextPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in characters (code points), so a Japanese string counts one column a character. */
  column: number;
}

export function positionAt(source: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), source.length);
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: Array.from(source.slice(lineStart, end)).length + 1 };
}

/** `1:5`. */
export function formatPosition(source: string, offset: number): string {
  const { line, column } = positionAt(source, offset);
  return `${line}:${column}`;
}
