import { rewriteTextLinks } from './link-rewriter';

describe('rewriteTextLinks', () => {
  const links = ['https://a.example/x', 'https://a.example/x', 'https://b.example/'];
  const clicks = ['https://t/c/0', 'https://t/c/1', 'https://t/c/2'];

  it('replaces each original URL in document order, repeated URLs by their own index', () => {
    const text = 'one [https://a.example/x]\ntwo [https://a.example/x]\nthree [https://b.example/]';
    expect(rewriteTextLinks(text, links, clicks)).toBe('one [https://t/c/0]\ntwo [https://t/c/1]\nthree [https://t/c/2]');
  });

  it('skips a link the text does not show and keeps the rest in step', () => {
    const text = 'logo\ntwo [https://a.example/x]\nthree [https://b.example/]';
    expect(rewriteTextLinks(text, links, clicks)).toBe('logo\ntwo [https://t/c/0]\nthree [https://t/c/2]');
  });

  it('leaves text without links as it is', () => {
    expect(rewriteTextLinks('no links here', [], [])).toBe('no links here');
  });
});
