import { buildDisclosure, type DisclosureConfig, renderDisclosureHtml } from './disclosure';

function config(honorDoNotTrack: boolean, ipMode: 'truncate' | 'hash' = 'truncate'): DisclosureConfig {
  return { http: { publicBaseUrl: 'https://tend.acme.example' }, tracking: { honorDoNotTrack, ipMode } };
}

function allText(lang: 'ja' | 'en', settings: DisclosureConfig): string {
  return buildDisclosure(lang, settings)
    .sections.flatMap((s) => s.items)
    .join('\n');
}

describe('buildDisclosure', () => {
  it.each(['ja', 'en'] as const)('%s: mentions Do Not Track and GPC when TRACKING_HONOR_DNT=true', (lang) => {
    const text = allText(lang, config(true));
    expect(text).toContain('Do Not Track');
    expect(text).toContain('Global Privacy Control');
    expect(text).toContain('window.tend.optOut()');
  });

  it.each(['ja', 'en'] as const)('%s: says nothing of Do Not Track or GPC when TRACKING_HONOR_DNT=false', (lang) => {
    const text = allText(lang, config(false));
    expect(text).not.toContain('Do Not Track');
    expect(text).not.toContain('Global Privacy Control');
    // The opt-out still works and is still described.
    expect(text).toContain('window.tend.optOut()');
  });

  it('names the recipient and the custom event details sent by tend.track', () => {
    expect(allText('ja', config(true))).toContain('https://tend.acme.example');
    expect(allText('ja', config(true))).toContain('当サイトがその操作に添えて送る情報');
    expect(allText('en', config(true))).toContain('https://tend.acme.example');
    expect(allText('en', config(true))).toContain('with the details this site sends along with it');
  });

  it('describes how the IP address is stored under the configured mode', () => {
    expect(allText('ja', config(true, 'truncate'))).toContain('末尾を切り捨てたもののみ保存');
    expect(allText('ja', config(true, 'hash'))).toContain('ハッシュ化したもののみ保存');
    expect(allText('en', config(true, 'truncate'))).toContain('stored only truncated');
    expect(allText('en', config(true, 'hash'))).toContain('stored only as a keyed hash');
  });

  it('renders escaped HTML in the requested language', () => {
    const html = renderDisclosureHtml(buildDisclosure('en', config(true)), 'en');
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('cookie &quot;tend_vid&quot;');
  });
});
