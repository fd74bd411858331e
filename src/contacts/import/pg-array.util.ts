/** What an element of a bulk-write array may be; undefined is written as NULL. */
export type ArrayElement = string | number | null | undefined;

const needsEscape = /["\\]/;

/**
 * A PostgreSQL array literal of text elements (`{"a",NULL,"b"}`), which the
 * statement casts to the column's type. Faster than the driver's own
 * conversion of JS arrays, which matters at 100,000 rows.
 */
export function toArrayLiteral(values: readonly ArrayElement[]): string {
  const parts: string[] = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      parts[i] = 'NULL';
    } else {
      const text = typeof value === 'string' ? value : String(value);
      parts[i] = needsEscape.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`;
    }
  }
  return `{${parts.join(',')}}`;
}
