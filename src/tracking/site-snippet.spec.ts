import { Script } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { renderSnippet } from './site-snippet';

describe('site snippet', () => {
  const source = renderSnippet({ endpoint: 'https://tend.example.com', honorDoNotTrack: true });

  it('is valid JavaScript with its settings inlined', () => {
    expect(() => new Script(source)).not.toThrow();
    expect(source).toContain('{"e":"https://tend.example.com","dnt":true}');
  });

  it('stays under 3 KB gzipped', () => {
    const size = gzipSync(source).length;
    expect(size).toBeLessThan(3 * 1024);
  });
});
