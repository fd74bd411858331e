/**
 * Bound parameters of a compiled fact query: every value (literals of an expression, `now`,
 * settings, even the constants of the code) travels as a parameter with an explicit cast;
 * only SQL written in this code and catalogue column names reach the text.
 */
export type SqlCast =
  'float8' | 'float8[]' | 'text' | 'text[]' | 'boolean' | 'boolean[]' | 'date' | 'timestamptz' | 'int' | 'uuid[]';

export class SqlParameters {
  readonly values: unknown[] = [];
  private readonly placeholders = new Map<string, string>();

  /** `$n::cast` for the value; the same value and cast share one parameter. */
  add(value: unknown, cast: SqlCast): string {
    const key = `${cast}:${JSON.stringify(value)}`;
    const known = this.placeholders.get(key);
    if (known !== undefined) return known;
    this.values.push(value);
    const placeholder = `$${this.values.length}::${cast}`;
    this.placeholders.set(key, placeholder);
    return placeholder;
  }
}
