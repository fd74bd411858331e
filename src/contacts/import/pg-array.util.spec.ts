import { toArrayLiteral } from './pg-array.util';

describe('toArrayLiteral', () => {
  it('quotes every element and writes null as NULL', () => {
    expect(toArrayLiteral(['a', null, undefined, 12.5, ''])).toBe('{"a",NULL,NULL,"12.5",""}');
    expect(toArrayLiteral([])).toBe('{}');
  });

  it('escapes quotes and backslashes, leaving commas, braces and spaces inside the quotes', () => {
    expect(toArrayLiteral(['say "hi"', 'C:\\dir', '{a,b} c', 'NULL'])).toBe(
      '{"say \\"hi\\"","C:\\\\dir","{a,b} c","NULL"}',
    );
  });
});
