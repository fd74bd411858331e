import { uuidV7 } from './uuid-v7.util';

describe('uuidV7', () => {
  it('is a version 7, variant 10 UUID carrying the time in its first 48 bits', () => {
    const at = Date.UTC(2026, 11, 3, 5, 6, 7, 890);
    const id = uuidV7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sorts by time across milliseconds and never repeats', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => uuidV7(1_800_000_000_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    const byTime = ids.map((id) => id.slice(0, 13));
    expect([...byTime].sort()).toEqual(byTime);
  });
});
