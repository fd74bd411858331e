/**
 * A parsed YAML file that remembers where everything is, so every problem can be
 * reported as `file:line:col: message`. PURE: takes text, never reads files.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar } from 'yaml';

export interface Position {
  line: number;
  col: number;
}

/** One problem found in a file. */
export interface SourceIssue extends Position {
  file: string;
  message: string;
}

export type DataPath = readonly (string | number)[];

export function formatIssue(issue: SourceIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}

/** Sorted by file, line, column: the order an author reads them in. */
export function sortIssues(issues: SourceIssue[]): SourceIssue[] {
  return [...issues].sort((a, b) => (a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1));
}

export class YamlSource {
  readonly issues: SourceIssue[] = [];
  readonly data: unknown;
  private readonly lines = new LineCounter();
  private readonly root: Node | null;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true, strict: true });
    for (const error of [...doc.errors, ...doc.warnings]) {
      const quote = error.code === 'MISSING_CHAR' ? /closing (["'])quote/.exec(error.message)?.[1] : undefined;
      if (quote !== undefined) {
        // The parser notices at the end of the file; the author needs the opening quote.
        const opened = openingQuoteBefore(text, error.pos[0], quote);
        this.issues.push({ file, ...this.at(opened), message: `YAML: this ${quote} quote is never closed` });
        continue;
      }
      const at = error.linePos?.[0] ?? this.at(error.pos[0]);
      this.issues.push({ file, line: at.line, col: at.col, message: yamlMessage(error.code, error.message) });
    }
    this.root = doc.contents;
    this.data = doc.errors.length === 0 ? (doc.toJS({ maxAliasCount: 100 }) as unknown) : undefined;
  }

  /** Line and column (1-based) of a character offset. */
  at(offset: number): Position {
    const pos = this.lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { line: pos.line, col: pos.col };
  }

  issue(path: DataPath, message: string, which: 'value' | 'key' = 'value'): SourceIssue {
    return { file: this.file, ...this.positionOf(path, which), message };
  }

  /**
   * Where the value at `path` starts (or its key, with `which: 'key'`). A path that does
   * not exist (a missing key) points at the nearest enclosing node that does.
   */
  positionOf(path: DataPath, which: 'value' | 'key' = 'value'): Position {
    const found = this.find(path);
    const node = which === 'key' && found.key !== undefined && found.depth === path.length ? found.key : found.node;
    return this.at(node?.range?.[0] ?? 0);
  }

  /** The node at `path` when it exists. */
  nodeAt(path: DataPath): Node | undefined {
    const found = this.find(path);
    return found.depth === path.length ? (found.node ?? undefined) : undefined;
  }

  /** The key node of a map entry `key` inside the mapping at `path` (for unknown-key errors). */
  keyPosition(path: DataPath, key: string): Position {
    const node = this.nodeAt(path);
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && String(pair.key.value) === key) return this.at(pair.key.range?.[0] ?? 0);
      }
    }
    return this.positionOf(path);
  }

  /**
   * Position of character `offset` of the string value at `path`, so an expression
   * error points at the exact column: plain and quoted scalars map one to one
   * (escapes aside); block scalars (`|`, `>`) map line by line.
   */
  positionInString(path: DataPath, offset: number): Position {
    const node = this.nodeAt(path);
    if (!(node instanceof Scalar) || node.range === undefined || node.range === null) return this.positionOf(path);
    const start = node.range[0];
    switch (node.type) {
      case Scalar.QUOTE_DOUBLE:
      case Scalar.QUOTE_SINGLE:
        return this.at(start + 1 + quotedSourceOffset(this.text, start + 1, offset, node.type === Scalar.QUOTE_DOUBLE));
      case Scalar.BLOCK_LITERAL:
      case Scalar.BLOCK_FOLDED:
        return this.blockPosition(start, String(node.value), offset);
      default:
        return this.at(start + offset);
    }
  }

  private blockPosition(start: number, value: string, offset: number): Position {
    const before = value.slice(0, offset);
    const lineIndex = before.split('\n').length - 1;
    const column = offset - (before.lastIndexOf('\n') + 1);
    const header = this.at(start);
    const contentLines = this.text.split('\n').slice(header.line);
    const indent = /^ */.exec(contentLines.find((l) => l.trim() !== '') ?? '')?.[0].length ?? 0;
    return { line: header.line + 1 + lineIndex, col: indent + column + 1 };
  }

  private find(path: DataPath): { node: Node | null; key: Node | undefined; depth: number } {
    let node: Node | null = this.root;
    let key: Node | undefined;
    let depth = 0;
    for (const part of path) {
      let next: Node | null | undefined;
      let nextKey: Node | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
        if (pair) {
          nextKey = pair.key as Node;
          next = (pair.value as Node | null) ?? (pair.key as Node);
        }
      } else if (isSeq(node) && typeof part === 'number') {
        next = node.items[part] as Node | undefined;
      }
      if (next === undefined || next === null) break;
      node = next;
      key = nextKey;
      depth += 1;
    }
    return { node, key, depth };
  }
}

/**
 * How many source characters after the opening quote hold the first `valueOffset`
 * characters of a quoted scalar's value: escapes (`\\"`, `\\u3042`; `''` in single quotes)
 * take more room in the source than in the value.
 */
function quotedSourceOffset(text: string, from: number, valueOffset: number, double: boolean): number {
  let source = 0;
  for (let value = 0; value < valueOffset; value++) {
    const c = text[from + source];
    if (double && c === '\\') {
      const next = text[from + source + 1];
      source += next === 'u' ? 6 : next === 'x' ? 4 : next === 'U' ? 10 : 2;
    } else if (!double && c === "'" && text[from + source + 1] === "'") {
      source += 2;
    } else {
      source += 1;
    }
  }
  return source;
}

/** The quote that starts a scalar (after `key: `, `- `, `[` or `,`) nearest before `end`. */
function openingQuoteBefore(text: string, end: number, quote: string): number {
  const pattern = new RegExp(`(^|[:\\-\\[,{]\\s*)${quote}`, 'gm');
  let found = end;
  for (const match of text.slice(0, end).matchAll(pattern)) found = match.index + match[0].length - 1;
  return found;
}

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0] ?? message;
  const cleaned = first.replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'duplicate key: each key may appear only once in a mapping';
    case 'TAB_AS_INDENT':
      return 'tabs are not allowed for indentation: use spaces';
    default:
      return `YAML: ${cleaned.charAt(0).toLowerCase()}${cleaned.slice(1)}`;
  }
}
