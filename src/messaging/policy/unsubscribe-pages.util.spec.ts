import {
  escapeHtml,
  maskEmail,
  renderConfirmPage,
  renderPreferencesPage,
  renderUnsubscribedPage,
} from './unsubscribe-pages.util';

describe('unsubscribe pages', () => {
  it('masks addresses', () => {
    expect(maskEmail('taro@example.jp')).toBe('t***@example.jp');
    expect(maskEmail('x@a.example')).toBe('x***@a.example');
    expect(maskEmail('broken')).toBe('***');
  });

  it('escapes markup', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });

  it('renders the confirmation page in Japanese with a POST form to the same URL', () => {
    const html = renderConfirmPage({ locale: 'ja', maskedEmail: 't***@example.jp', token: 'abc_-1' });
    expect(html).toContain('<html lang="ja">');
    expect(html).toContain('配信を停止する');
    const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1] ?? '';
    // Relative, so the form posts back to the page's own URL behind a path prefix too.
    expect(new URL(action, 'https://tend.example/tend/u/abc_-1').pathname).toBe('/tend/u/abc_-1');
    const preferences = /<a href="([^"]+)">/.exec(html)?.[1] ?? '';
    expect(new URL(preferences, 'https://tend.example/tend/u/abc_-1').pathname).toBe('/tend/u/abc_-1/preferences');
    expect(html).toContain('t***@example.jp');
  });

  it('renders the done page in English', () => {
    expect(renderUnsubscribedPage({ locale: 'en', maskedEmail: 't***@example.jp' })).toContain(
      'You have been unsubscribed',
    );
  });

  it('renders topics with escaped values and the saved notice', () => {
    const html = renderPreferencesPage({
      locale: 'en',
      maskedEmail: 't***@example.jp',
      topics: [
        { topic: 'events', subscribed: true },
        { topic: 'x"><script>', subscribed: false },
      ],
      suppressed: false,
      saved: true,
    });
    expect(html).toContain('value="events" checked');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Your preferences have been saved.');
    const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1] ?? '';
    expect(new URL(action, 'https://tend.example/tend/u/tok/preferences').pathname).toBe('/tend/u/tok/preferences');
  });
});
