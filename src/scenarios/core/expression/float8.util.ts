/**
 * Arithmetic on IEEE doubles exactly as PostgreSQL's float8 does it, so the in-memory
 * evaluator and the SQL compiled from the same expression agree: the same correctly rounded
 * operations, and an error (never Infinity or a silent 0) where PostgreSQL raises
 * "value out of range: overflow / underflow". Division and remainder by zero never get here
 * (the language makes them null). PURE.
 */

export class NumberRangeError extends Error {
  constructor(kind: 'overflow' | 'underflow') {
    super(`value out of range: ${kind}`);
    this.name = 'NumberRangeError';
  }
}

function checked(result: number, a: number, b: number, underflow: boolean): number {
  if (!Number.isFinite(result) && Number.isFinite(a) && Number.isFinite(b)) throw new NumberRangeError('overflow');
  if (underflow && result === 0 && a !== 0 && b !== 0) throw new NumberRangeError('underflow');
  return result;
}

export function float8Add(a: number, b: number): number {
  return checked(a + b, a, b, false);
}

export function float8Subtract(a: number, b: number): number {
  return checked(a - b, a, b, false);
}

export function float8Multiply(a: number, b: number): number {
  return checked(a * b, a, b, true);
}

/** `b` is not zero. */
export function float8Divide(a: number, b: number): number {
  const result = a / b;
  if (!Number.isFinite(result) && Number.isFinite(a)) throw new NumberRangeError('overflow');
  if (result === 0 && a !== 0 && Number.isFinite(b)) throw new NumberRangeError('underflow');
  return result;
}

/** `a - b * trunc(a / b)`, step by step as the SQL computes it; `b` is not zero. */
export function float8Remainder(a: number, b: number): number {
  return float8Subtract(a, float8Multiply(b, Math.trunc(float8Divide(a, b))));
}
