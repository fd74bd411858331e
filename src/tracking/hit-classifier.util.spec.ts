import {
  classifyClick,
  classifyOpen,
  DEFAULT_HIT_CLASSIFIER_OPTIONS,
  type ClickHitSignals,
  type OpenHitSignals,
} from './hit-classifier.util';

const UA = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  edgeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  androidGmailWebView:
    'Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36',
  cubotAndroid:
    'Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  outlookDesktop: 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)',
  outlookLegacy: 'Mozilla/4.0 (compatible; ms-office; MSOffice 16)',
  appleMailDirect: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)',
  thunderbird: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0',
  googleProxy: 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
  yahooProxy: 'Mozilla/5.0 (compatible; YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html)',
};

const HUMAN_IP = '203.0.113.5';

const open = (overrides: Partial<OpenHitSignals> = {}): OpenHitSignals => ({
  method: 'GET',
  userAgent: UA.chromeWindows,
  ip: HUMAN_IP,
  secondsSinceSent: 3_600,
  ...overrides,
});

const click = (overrides: Partial<ClickHitSignals> = {}): ClickHitSignals => ({
  method: 'GET',
  userAgent: UA.chromeWindows,
  ip: HUMAN_IP,
  secondsSinceDelivered: 3_600,
  distinctLinksHitRecently: 1,
  messageLinkCount: 4,
  ...overrides,
});

const SCANNERS: [string, string][] = [
  ['Barracuda', 'Barracuda Sentinel (EE)'],
  ['Mimecast', 'Mozilla/5.0 (compatible; Mimecast URL Protect)'],
  ['Proofpoint', 'Mozilla/5.0 (compatible; Proofpoint URL Defense)'],
  [
    'Microsoft Defender (BingPreview)',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.74 Safari/537.36 Edg/79.0.309.43 BingPreview/1.0b',
  ],
  ['Microsoft Office existence probe', 'Microsoft Office Existence Discovery'],
  ['Safe Links', 'Microsoft SafeLinks Protection'],
  ['Symantec', 'Symantec Email Security.cloud LinkCheck'],
  ['Trend Micro', 'Mozilla/5.0 (compatible; Trend Micro Web Reputation)'],
  ['TrendMicro', 'TrendMicro-URL-Check/1.0'],
  ['FireEye', 'FireEye Email Security URL analysis'],
  ['Cisco IronPort', 'IronPort URL Filter'],
  ['Sophos', 'Sophos Email Link Scanner'],
  ['Forcepoint', 'Forcepoint Email Security'],
  ['Fortinet', 'FortiMail URL click protection'],
  ['Zscaler', 'Zscaler Sandbox'],
  ['generic scanner', 'Netwalk research scanner'],
];

const PREVIEWS = [
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'WhatsApp/2.23.20.0 A',
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  'TelegramBot (like TwitterBot)',
  'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
  'Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5',
];

const HEADLESS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1',
];

const LIBRARIES = [
  'curl/8.5.0',
  'Wget/1.21.4',
  'python-requests/2.32.3',
  'Python-urllib/3.12',
  'python-httpx/0.27.0',
  'Python/3.12 aiohttp/3.9.5',
  'Go-http-client/2.0',
  'Java/17.0.9',
  'Apache-HttpClient/4.5.14 (Java/17.0.9)',
  'okhttp/4.12.0',
  'libwww-perl/6.72',
  'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
  'axios/1.7.2',
  'node',
  'Scrapy/2.11 (+https://scrapy.org)',
  'GuzzleHttp/7',
];

const BOTS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
  'SomeCrawler/1.0',
  'Baiduspider/2.0',
  'Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)',
];

describe('classifyOpen', () => {
  it.each([
    ['desktop Chrome', UA.chromeWindows],
    ['mobile Safari', UA.safariIphone],
    ['Android web view', UA.androidGmailWebView],
    ['Android phone whose model name contains "bot"', UA.cubotAndroid],
    ['Outlook desktop', UA.outlookDesktop],
    ['Outlook desktop (legacy UA)', UA.outlookLegacy],
    ['Apple Mail without privacy protection', UA.appleMailDirect],
    ['Thunderbird', UA.thunderbird],
  ])('counts a %s open as human', (_name, userAgent) => {
    expect(classifyOpen(open({ userAgent }))).toEqual({ kind: 'human', reason: 'no_machine_signal' });
  });

  it('trusts the provider flag (SendGrid sg_machine_open) above everything', () => {
    expect(classifyOpen(open({ providerFlags: { machine: true } }))).toEqual({
      kind: 'machine',
      reason: 'provider_flag',
    });
    expect(classifyOpen(open({ providerFlags: { machine: false } })).kind).toBe('human');
    expect(classifyOpen(open({ providerFlags: {} })).kind).toBe('human');
  });

  it('treats HEAD and other non-GET methods as machines', () => {
    expect(classifyOpen(open({ method: 'HEAD' }))).toEqual({ kind: 'machine', reason: 'head_request' });
    expect(classifyOpen(open({ method: 'head' }))).toEqual({ kind: 'machine', reason: 'head_request' });
    expect(classifyOpen(open({ method: 'POST' }))).toEqual({ kind: 'machine', reason: 'unexpected_method' });
    expect(classifyOpen(open({ method: 'OPTIONS' }))).toEqual({ kind: 'machine', reason: 'unexpected_method' });
    expect(classifyOpen(open({ method: 'get' })).kind).toBe('human');
  });

  it('treats a missing or empty user agent as a machine', () => {
    for (const userAgent of [undefined, null, '', '   ']) {
      expect(classifyOpen(open({ userAgent }))).toEqual({ kind: 'machine', reason: 'empty_user_agent' });
    }
  });

  it('recognises the bare Mozilla/5.0 user agent of Apple Mail Privacy Protection', () => {
    expect(classifyOpen(open({ userAgent: 'Mozilla/5.0' }))).toEqual({
      kind: 'machine',
      reason: 'apple_privacy_proxy_user_agent',
    });
    expect(classifyOpen(open({ userAgent: ' mozilla/5.0 ' })).reason).toBe('apple_privacy_proxy_user_agent');
  });

  it.each(['17.58.100.1', '17.0.0.0', '::ffff:17.253.1.1', '2620:149:a44::1', '2403:300:a0b::5', '2a01:b740:a22::9'])(
    'recognises an Apple address (%s) as a privacy-proxy open',
    (ip) => {
      expect(classifyOpen(open({ ip }))).toEqual({ kind: 'machine', reason: 'apple_privacy_proxy_ip' });
    },
  );

  it('does not flag neighbouring or invalid addresses, and takes a custom range list', () => {
    for (const ip of ['16.255.255.255', '18.0.0.1', '2620:14a::1', 'garbage', '', null, undefined]) {
      expect(classifyOpen(open({ ip })).kind).toBe('human');
    }
    expect(classifyOpen(open({ ip: '17.1.1.1' }), { appleProxyCidrs: [] }).kind).toBe('human');
    expect(classifyOpen(open({ ip: '198.51.100.9' }), { appleProxyCidrs: ['198.51.100.0/24'] }).reason).toBe(
      'apple_privacy_proxy_ip',
    );
    expect(() => classifyOpen(open(), { appleProxyCidrs: ['not-a-range'] })).toThrow(/invalid CIDR/);
  });

  it('recognises the Google image proxy (every Gmail open)', () => {
    expect(classifyOpen(open({ userAgent: UA.googleProxy }))).toEqual({
      kind: 'machine',
      reason: 'google_image_proxy',
    });
    expect(classifyOpen(open({ userAgent: 'Mozilla/5.0 (via ggpht.com)' })).reason).toBe('google_image_proxy');
  });

  it('recognises the Yahoo and other image proxies', () => {
    expect(classifyOpen(open({ userAgent: UA.yahooProxy }))).toEqual({ kind: 'machine', reason: 'yahoo_image_proxy' });
    expect(classifyOpen(open({ userAgent: 'SomeMail Image Proxy/1.0' })).reason).toBe('image_proxy');
  });

  it.each(SCANNERS)('recognises the %s scanner', (_name, userAgent) => {
    expect(classifyOpen(open({ userAgent }))).toEqual({ kind: 'machine', reason: 'security_scanner' });
  });

  it.each(PREVIEWS)('recognises the link preview %s', (userAgent) => {
    expect(classifyOpen(open({ userAgent })).reason).toBe('link_preview');
  });

  it.each(HEADLESS)('recognises the headless browser %s', (userAgent) => {
    expect(classifyOpen(open({ userAgent })).reason).toBe('headless_browser');
  });

  it.each(LIBRARIES)('recognises the HTTP library %s', (userAgent) => {
    expect(classifyOpen(open({ userAgent })).reason).toBe('http_library');
  });

  it.each(BOTS)('recognises the robot %s', (userAgent) => {
    expect(classifyOpen(open({ userAgent })).reason).toBe('generic_bot');
  });

  it('treats an open within two seconds of sending as a machine', () => {
    expect(classifyOpen(open({ secondsSinceSent: 0 }))).toEqual({ kind: 'machine', reason: 'too_soon_after_send' });
    expect(classifyOpen(open({ secondsSinceSent: 1.99 })).reason).toBe('too_soon_after_send');
    // Hit recorded before our send timestamp (clock skew, commit after the provider call).
    expect(classifyOpen(open({ secondsSinceSent: -3 })).reason).toBe('too_soon_after_send');
    expect(classifyOpen(open({ secondsSinceSent: 2 })).kind).toBe('human');
    expect(classifyOpen(open({ secondsSinceSent: null })).kind).toBe('human');
    expect(classifyOpen(open({ secondsSinceSent: undefined })).kind).toBe('human');
    expect(classifyOpen(open({ secondsSinceSent: Number.NaN })).kind).toBe('human');
  });

  it('takes a custom open threshold', () => {
    expect(classifyOpen(open({ secondsSinceSent: 4 }), { openMinSecondsAfterSend: 5 }).reason).toBe(
      'too_soon_after_send',
    );
    expect(classifyOpen(open({ secondsSinceSent: 1 }), { openMinSecondsAfterSend: 0 }).kind).toBe('human');
  });

  it('reports the first rule that fires', () => {
    expect(classifyOpen(open({ method: 'HEAD', userAgent: '', ip: '17.0.0.1', secondsSinceSent: 0 })).reason).toBe(
      'head_request',
    );
    expect(classifyOpen(open({ userAgent: UA.googleProxy, ip: '17.0.0.1', secondsSinceSent: 0 })).reason).toBe(
      'google_image_proxy',
    );
    expect(classifyOpen(open({ ip: '17.0.0.1', secondsSinceSent: 0 })).reason).toBe('apple_privacy_proxy_ip');
  });

  it('bounds the user agent it examines', () => {
    const huge = `${UA.chromeWindows} ${'x'.repeat(100_000)} bot`;
    expect(classifyOpen(open({ userAgent: huge })).kind).toBe('human');
  });
});

describe('classifyClick', () => {
  it.each([
    ['desktop Chrome (Gmail web)', UA.chromeWindows],
    ['desktop Edge (from Outlook)', UA.edgeWindows],
    ['mobile Safari (iOS Mail, Gmail app)', UA.safariIphone],
    ['Android Gmail web view', UA.androidGmailWebView],
    ['Android phone whose model name contains "bot"', UA.cubotAndroid],
  ])('counts a %s click as human', (_name, userAgent) => {
    expect(classifyClick(click({ userAgent }))).toEqual({ kind: 'human', reason: 'no_bot_signal' });
  });

  it('does not apply the Apple address rule to clicks (Private Relay users click from there)', () => {
    expect(classifyClick(click({ ip: '17.58.100.1' })).kind).toBe('human');
  });

  it('trusts a provider flag', () => {
    expect(classifyClick(click({ providerFlags: { machine: true } }))).toEqual({
      kind: 'bot',
      reason: 'provider_flag',
    });
  });

  it('treats HEAD requests as bot clicks, and other non-GET methods too', () => {
    expect(classifyClick(click({ method: 'HEAD' }))).toEqual({ kind: 'bot', reason: 'head_request' });
    expect(classifyClick(click({ method: 'POST' }))).toEqual({ kind: 'bot', reason: 'unexpected_method' });
  });

  it('treats an empty or bare user agent as a bot', () => {
    expect(classifyClick(click({ userAgent: '' }))).toEqual({ kind: 'bot', reason: 'empty_user_agent' });
    expect(classifyClick(click({ userAgent: null }))).toEqual({ kind: 'bot', reason: 'empty_user_agent' });
    expect(classifyClick(click({ userAgent: 'Mozilla/5.0' }))).toEqual({ kind: 'bot', reason: 'bare_user_agent' });
  });

  it.each(SCANNERS)('recognises the %s scanner', (_name, userAgent) => {
    expect(classifyClick(click({ userAgent }))).toEqual({ kind: 'bot', reason: 'security_scanner' });
  });

  it('recognises proxies, previews, headless browsers, libraries and robots', () => {
    expect(classifyClick(click({ userAgent: UA.googleProxy })).reason).toBe('google_image_proxy');
    for (const userAgent of PREVIEWS) expect(classifyClick(click({ userAgent })).reason).toBe('link_preview');
    for (const userAgent of HEADLESS) expect(classifyClick(click({ userAgent })).reason).toBe('headless_browser');
    for (const userAgent of LIBRARIES) expect(classifyClick(click({ userAgent })).reason).toBe('http_library');
    for (const userAgent of BOTS) expect(classifyClick(click({ userAgent })).reason).toBe('generic_bot');
  });

  it('treats a click within ten seconds of delivery as a bot', () => {
    expect(classifyClick(click({ secondsSinceDelivered: 0 }))).toEqual({
      kind: 'bot',
      reason: 'too_soon_after_delivery',
    });
    expect(classifyClick(click({ secondsSinceDelivered: 9.5 })).reason).toBe('too_soon_after_delivery');
    expect(classifyClick(click({ secondsSinceDelivered: 10 })).kind).toBe('human');
    expect(classifyClick(click({ secondsSinceDelivered: null })).kind).toBe('human');
    expect(classifyClick(click({ secondsSinceDelivered: 20 }), { clickMinSecondsAfterDelivery: 30 }).reason).toBe(
      'too_soon_after_delivery',
    );
  });

  it('treats every link of a message hit within the window as a bot', () => {
    expect(classifyClick(click({ messageLinkCount: 2, distinctLinksHitRecently: 2 }))).toEqual({
      kind: 'bot',
      reason: 'all_links_hit',
    });
    expect(classifyClick(click({ messageLinkCount: 2, distinctLinksHitRecently: 1 })).kind).toBe('human');
    // One link: hitting "all of them" is what a human does.
    expect(classifyClick(click({ messageLinkCount: 1, distinctLinksHitRecently: 1 })).kind).toBe('human');
  });

  it('treats a burst of distinct links as a bot, whatever the message size', () => {
    expect(classifyClick(click({ messageLinkCount: 20, distinctLinksHitRecently: 2 })).kind).toBe('human');
    expect(classifyClick(click({ messageLinkCount: 20, distinctLinksHitRecently: 3 }))).toEqual({
      kind: 'bot',
      reason: 'link_burst',
    });
    expect(classifyClick(click({ messageLinkCount: null, distinctLinksHitRecently: 3 })).reason).toBe('link_burst');
    expect(classifyClick(click({ messageLinkCount: undefined, distinctLinksHitRecently: 2 })).kind).toBe('human');
    expect(
      classifyClick(click({ messageLinkCount: 20, distinctLinksHitRecently: 5 }), { linkBurstThreshold: 6 }).kind,
    ).toBe('human');
    expect(classifyClick(click({ distinctLinksHitRecently: Number.NaN })).kind).toBe('human');
  });

  it('has documented defaults', () => {
    expect(DEFAULT_HIT_CLASSIFIER_OPTIONS).toMatchObject({
      openMinSecondsAfterSend: 2,
      clickMinSecondsAfterDelivery: 10,
      linkBurstWindowSeconds: 10,
      linkBurstThreshold: 3,
    });
  });
});
