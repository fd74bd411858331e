import { checkPropsBounds, PROPS_LIMITS } from './props-bounds.util';

describe('checkPropsBounds', () => {
  it('accepts small flat and nested props', () => {
    expect(checkPropsBounds({})).toEqual([]);
    expect(checkPropsBounds({ feature: 'exports', rows: 120, ok: true, note: null })).toEqual([]);
    expect(checkPropsBounds({ plan: { tiers: ['a', 'b'] }, tags: [1, 2] })).toEqual([]);
  });

  it('refuses anything but an object', () => {
    expect(checkPropsBounds([])).toEqual([{ path: '', message: 'must be a JSON object' }]);
    expect(checkPropsBounds('x')).toHaveLength(1);
    expect(checkPropsBounds(null)).toHaveLength(1);
  });

  it('counts props as level 1 and allows 3 levels', () => {
    expect(checkPropsBounds({ a: { b: { c: 1 } } })).toEqual([]);
    expect(checkPropsBounds({ a: [[1]] })).toEqual([]);
    expect(checkPropsBounds({ a: { b: { c: { d: 1 } } } })).toEqual([
      { path: 'a.b.c', message: 'must be nested at most 3 levels deep (props itself is level 1)' },
    ]);
    expect(checkPropsBounds({ list: [[[1]]] })).toEqual([
      { path: 'list.0.0', message: expect.stringContaining('at most 3 levels') as string },
    ]);
  });

  it('handles very deep input without recursing into it', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const issues = checkPropsBounds({ deep });
    expect(issues).toEqual([{ path: 'deep.0.0', message: expect.stringContaining('levels deep') as string }]);
  });

  it('allows 50 keys in all, nested keys included', () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    expect(checkPropsBounds(fifty)).toEqual([]);
    expect(checkPropsBounds({ ...fifty, k50: 1 })).toEqual([
      { path: '', message: 'must have at most 50 keys in all, nested keys included' },
    ]);
    const nested = {
      ...Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`k${i}`, i])),
      inner: { a: 1, b: 2, c: 3, d: 4, e: 5 },
    };
    expect(checkPropsBounds(nested)).toHaveLength(1);
  });

  it('finds oversized props made of many small values (the size is never underestimated)', () => {
    const oversized = [
      { a: Array.from({ length: 4088 }, () => []) }, // 12,271 bytes of empty arrays
      { a: Array.from({ length: 2800 }, () => ({})) },
      { a: Array.from({ length: 2000 }, () => -1.234567890123456e-300) },
      { a: Array.from({ length: 3000 }, () => null) },
      { a: Array.from({ length: 1000 }, () => '\u0001') }, // each escaped as \u0001: 9 bytes with quotes and comma
    ];
    for (const props of oversized) {
      const bytes = Buffer.byteLength(JSON.stringify(props), 'utf8');
      expect(bytes).toBeGreaterThan(8192);
      expect(checkPropsBounds(props)).toEqual([
        { path: '', message: `must serialize to at most 8192 bytes of JSON (got ${bytes})` },
      ]);
    }
  });

  it('bounds string length and the serialized size', () => {
    expect(checkPropsBounds({ s: 'x'.repeat(1000) })).toEqual([]);
    expect(checkPropsBounds({ s: 'x'.repeat(1001) })).toEqual([
      { path: 's', message: 'strings must be at most 1000 characters' },
    ]);
    expect(checkPropsBounds({ list: ['ok', 'y'.repeat(1001)] })).toEqual([
      { path: 'list.1', message: 'strings must be at most 1000 characters' },
    ]);
    const big = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'z'.repeat(900)]));
    const issues = checkPropsBounds(big);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      path: '',
      message: expect.stringContaining(`at most ${PROPS_LIMITS.maxBytes} bytes`) as string,
    });
  });

  it('measures size in UTF-8 bytes', () => {
    // 3 bytes per character: 10 strings of 300 kana are ~3,100 characters but 9,000+ bytes.
    const kana = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'あ'.repeat(300)]));
    expect(checkPropsBounds(kana)).toEqual([expect.objectContaining({ path: '' })]);
  });

  it('refuses text PostgreSQL cannot store', () => {
    expect(checkPropsBounds({ s: 'a\u0000b' })).toEqual([
      { path: 's', message: 'strings must not contain NUL characters or unpaired surrogates' },
    ]);
    expect(checkPropsBounds({ s: '\ud800' })).toHaveLength(1);
    expect(checkPropsBounds({ ['k\u0000']: 1 })).toEqual([
      { path: 'k\u0000', message: 'keys must not contain NUL characters or unpaired surrogates' },
    ]);
    expect(checkPropsBounds({ s: '絵文字 😀' })).toEqual([]);
  });

  it('reports a few problems, not thousands', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'x'.repeat(1001)]));
    expect(checkPropsBounds(many).length).toBeLessThanOrEqual(5);
  });
});
