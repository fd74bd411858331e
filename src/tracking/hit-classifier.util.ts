import { isIpInCidr, parseCidr, parseIpAddress, type IpCidr } from '../common/ip-address.util';

/*
 * Email opens and clicks come from people and from machines: privacy proxies that
 * fetch every image on delivery, security gateways that follow every link before
 * the recipient sees the message, link-preview fetchers, scripts. Checklist items
 * 22-23: a machine open must not drive scenario branching or identity linking, and a
 * bot click must not link a visitor or alert a CSM. These rules are deliberately
 * conservative towards "machine": a lost human open costs little, a scanner counted
 * as a human corrupts journeys and identities.
 *
 * Sources of the knowledge encoded below (checked Nov 2026):
 * - [SG]  Twilio SendGrid Event Webhook reference: open events carry `sg_machine_open`
 *         (true when SendGrid judged the open automated, e.g. Apple MPP prefetch).
 * - [SL]  SocketLabs, "Identifying Apple MPP opens": with Mail Privacy Protection Apple
 *         downloads every image of a new message through at least two proxies as soon
 *         as the Mail app syncs, whether or not the recipient opens it.
 * - [WTW] Word to the Wise, "Apple MPP reporting and geolocation" (2021): MPP image
 *         loads use the iCloud Private Relay infrastructure (mask.icloud.com).
 * - [ESP] ESP and deliverability write-ups (Litmus, Mailchimp, SocketLabs, Suped) on
 *         MPP: the proxy sends the bare user agent `Mozilla/5.0`, no other tokens.
 * - [APL] Apple, "Use Apple products on enterprise networks": Apple's own network is
 *         17.0.0.0/8; regional registries list 2620:149::/32 (ARIN), 2403:300::/32
 *         (APNIC) and 2a01:b740::/32 (RIPE) as Apple Inc. (AS714).
 * - [GIP] Google's image proxy (Gmail, since 2013) fetches with a user agent ending
 *         `(via ggpht.com GoogleImageProxy)`. Gmail caches the image, so only the
 *         first open is seen, and the fetch time need not be the reading time.
 * - [YMP] Yahoo Mail's proxy names itself: `YahooMailProxy; https://help.yahoo.com/kb/
 *         yahoo-mail-proxy-SLN28749.html`.
 * - [BRZ] Braze docs, "Bot filtering": filtered user agents include `Barracuda Sentinel
 *         (EE)`, `python-requests/…`, `GoogleBot`, link previewers.
 * - [MDD] Matomo device-detector `regexes/bots.yml` (the widely used open-source bot
 *         list): BingPreview, Barracuda Sentinel, headless browsers, HTTP libraries.
 * - [SEC] Secure email gateways (Mimecast, Proofpoint URL Defense, Microsoft Defender
 *         for Office 365 Safe Links, Symantec, Trend Micro, FireEye, Cisco IronPort,
 *         Sophos, Forcepoint, Fortinet, Zscaler, Check Point, McAfee, Kaspersky,
 *         Avanan) click every link on delivery to detonate it; many send their vendor
 *         name in the user agent, many others a stock browser string, which is why the
 *         timing and burst rules exist. Microsoft Office also sends `Microsoft Office
 *         Existence Discovery` HEAD/GET probes for links in documents and mail.
 */

/** What the provider told us about the hit. */
export interface ProviderHitFlags {
  /** The provider judged the hit automated; SendGrid's `sg_machine_open: true` maps here [SG]. */
  machine?: boolean;
}

/** The request fields both classifiers read. */
interface HitRequest {
  /** HTTP method as received (`GET`, `HEAD`, ...), any case. */
  method: string;
  userAgent: string | null | undefined;
  /** Client IP as text, before any anonymisation. */
  ip: string | null | undefined;
  providerFlags?: ProviderHitFlags;
}

export interface OpenHitSignals extends HitRequest {
  /** Seconds between sending the message and this hit; null when unknown. */
  secondsSinceSent: number | null | undefined;
}

export interface ClickHitSignals extends HitRequest {
  /** Seconds between delivery (or sending, when delivery is not known) and this hit; null when unknown. */
  secondsSinceDelivered: number | null | undefined;
  /**
   * Distinct links of the same message hit within the last `linkBurstWindowSeconds`,
   * this hit included (so at least 1).
   */
  distinctLinksHitRecently: number;
  /** Tracked links in the message, when known. */
  messageLinkCount?: number | null;
}

/** Why a user agent alone marks a hit as automated. */
export type UserAgentReason =
  | 'google_image_proxy'
  | 'yahoo_image_proxy'
  | 'image_proxy'
  | 'security_scanner'
  | 'link_preview'
  | 'headless_browser'
  | 'http_library'
  | 'generic_bot';

export type MachineOpenReason =
  | 'provider_flag'
  | 'head_request'
  | 'unexpected_method'
  | 'empty_user_agent'
  | 'apple_privacy_proxy_user_agent'
  | 'apple_privacy_proxy_ip'
  | 'too_soon_after_send'
  | UserAgentReason;

export type BotClickReason =
  | 'provider_flag'
  | 'head_request'
  | 'unexpected_method'
  | 'empty_user_agent'
  | 'bare_user_agent'
  | 'too_soon_after_delivery'
  | 'all_links_hit'
  | 'link_burst'
  | UserAgentReason;

export type OpenClassification =
  { kind: 'human'; reason: 'no_machine_signal' } | { kind: 'machine'; reason: MachineOpenReason };

export type ClickClassification = { kind: 'human'; reason: 'no_bot_signal' } | { kind: 'bot'; reason: BotClickReason };

export interface HitClassifierOptions {
  /** An open sooner than this after sending is a machine (gateway or proxy prefetch). */
  openMinSecondsAfterSend: number;
  /** A click sooner than this after delivery is a bot (security gateway detonation). */
  clickMinSecondsAfterDelivery: number;
  /** The window the caller counts `distinctLinksHitRecently` over. */
  linkBurstWindowSeconds: number;
  /** This many distinct links of one message within the window is a bot, whatever the message's size. */
  linkBurstThreshold: number;
  /**
   * Ranges whose opens are Apple privacy-proxy fetches [APL]. MPP egress also uses
   * the Private Relay egress list Apple publishes (mask-api.icloud.com, [WTW]);
   * operators who load that list can pass it here.
   */
  appleProxyCidrs: readonly string[];
}

/** Apple Inc. address space [APL]. */
export const APPLE_PROXY_CIDRS: readonly string[] = ['17.0.0.0/8', '2620:149::/32', '2403:300::/32', '2a01:b740::/32'];

export const DEFAULT_HIT_CLASSIFIER_OPTIONS: Readonly<HitClassifierOptions> = {
  openMinSecondsAfterSend: 2,
  clickMinSecondsAfterDelivery: 10,
  linkBurstWindowSeconds: 10,
  linkBurstThreshold: 3,
  appleProxyCidrs: APPLE_PROXY_CIDRS,
};

/** The bare user agent Apple's MPP proxy sends [ESP]. No real browser sends it. */
const BARE_USER_AGENT = 'mozilla/5.0';

/** Only this much of a user agent is examined; real ones are a few hundred characters. */
const MAX_USER_AGENT_CHARS = 1024;

/** Checked in order; the first match gives the reason. All case-insensitive. */
const USER_AGENT_RULES: readonly { reason: UserAgentReason; pattern: RegExp }[] = [
  // [GIP] `Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)`
  { reason: 'google_image_proxy', pattern: /googleimageproxy|ggpht\.com/i },
  // [YMP]
  { reason: 'yahoo_image_proxy', pattern: /yahoomailproxy/i },
  // Any other self-declared image proxy.
  { reason: 'image_proxy', pattern: /image ?proxy/i },
  // [SEC] [BRZ] [MDD] vendor names of secure email gateways and link checkers.
  {
    reason: 'security_scanner',
    pattern:
      /barracuda|mimecast|proofpoint|bingpreview|safelinks|existence discovery|symantec|trend ?micro|fireeye|trellix|ironport|sophos|forcepoint|forti(net|guard|mail)|zscaler|check ?point|mcafee|kaspersky|avanan|scanner/i,
  },
  // [BRZ] [MDD] link previews in chat apps: someone pasted the link, nobody clicked it.
  {
    reason: 'link_preview',
    pattern:
      /facebookexternalhit|whatsapp\/|slackbot|discordbot|telegrambot|twitterbot|linkedinbot|skypeuripreview|embedly|iframely|google-pagerenderer/i,
  },
  // [MDD] browsers driven by scripts.
  { reason: 'headless_browser', pattern: /headlesschrome|headless|phantomjs|puppeteer|playwright|selenium/i },
  // [BRZ] [MDD] HTTP libraries and command-line tools.
  {
    reason: 'http_library',
    pattern:
      /\bcurl\/|\bwget\/|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|^java\/|apache-httpclient|okhttp|libwww-perl|node-fetch|axios\/|undici|^node$|scrapy|guzzlehttp/i,
  },
  // [MDD] generic self-declared robots. `(?<!cu)` spares the CUBOT phone brand in Android UAs.
  { reason: 'generic_bot', pattern: /(?<!cu)bot|crawl|spider|slurp/i },
];

const compiledCidrs = new WeakMap<readonly string[], readonly IpCidr[]>();

/**
 * Classifies an email-open (pixel) hit as a human or a machine, with the first
 * rule that fired as the reason. Rules, in order:
 * provider flag [SG]; HEAD or another non-GET method (a real image load is a GET);
 * empty user agent; the bare `Mozilla/5.0` of Apple's MPP proxy [ESP][SL]; proxy,
 * scanner, preview and bot user agents [GIP][YMP][SEC][BRZ][MDD]; an address in
 * Apple's ranges [APL][WTW]; an open sooner than `openMinSecondsAfterSend` after
 * sending. Everything else is human.
 *
 * Note that Gmail opens always come through Google's proxy and so are machine opens
 * here (checklist item 22): the fetch proves delivery, not reading time [GIP].
 */
export function classifyOpen(hit: OpenHitSignals, options: Partial<HitClassifierOptions> = {}): OpenClassification {
  const settings = { ...DEFAULT_HIT_CLASSIFIER_OPTIONS, ...options };
  if (hit.providerFlags?.machine === true) return machine('provider_flag');
  const methodReason = methodRule(hit.method);
  if (methodReason !== null) return machine(methodReason);
  const userAgent = normaliseUserAgent(hit.userAgent);
  if (userAgent === '') return machine('empty_user_agent');
  if (userAgent.toLowerCase() === BARE_USER_AGENT) return machine('apple_privacy_proxy_user_agent');
  const agentReason = userAgentRule(userAgent);
  if (agentReason !== null) return machine(agentReason);
  if (isInRanges(hit.ip, settings.appleProxyCidrs)) return machine('apple_privacy_proxy_ip');
  if (isSooner(hit.secondsSinceSent, settings.openMinSecondsAfterSend)) return machine('too_soon_after_send');
  return { kind: 'human', reason: 'no_machine_signal' };
}

/**
 * Classifies a click (redirect) hit as a human or a bot, with the first rule that
 * fired as the reason. Rules, in order:
 * provider flag; HEAD (link checkers probe without following) or another non-GET
 * method; empty user agent; the bare `Mozilla/5.0` (no browser sends it, and Apple's
 * proxy only fetches images); proxy, scanner, preview and bot user agents; a click
 * sooner than `clickMinSecondsAfterDelivery` after delivery [SEC]; every link of a
 * message with two or more links hit within the window; `linkBurstThreshold` or more
 * distinct links within the window. Everything else is human.
 *
 * Apple's address ranges are not a click rule: MPP proxies images only, and people
 * browsing through iCloud Private Relay click from the same egress addresses.
 */
export function classifyClick(hit: ClickHitSignals, options: Partial<HitClassifierOptions> = {}): ClickClassification {
  const settings = { ...DEFAULT_HIT_CLASSIFIER_OPTIONS, ...options };
  if (hit.providerFlags?.machine === true) return bot('provider_flag');
  const methodReason = methodRule(hit.method);
  if (methodReason !== null) return bot(methodReason);
  const userAgent = normaliseUserAgent(hit.userAgent);
  if (userAgent === '') return bot('empty_user_agent');
  if (userAgent.toLowerCase() === BARE_USER_AGENT) return bot('bare_user_agent');
  const agentReason = userAgentRule(userAgent);
  if (agentReason !== null) return bot(agentReason);
  if (isSooner(hit.secondsSinceDelivered, settings.clickMinSecondsAfterDelivery)) return bot('too_soon_after_delivery');
  const distinct = Number.isFinite(hit.distinctLinksHitRecently) ? hit.distinctLinksHitRecently : 0;
  const linkCount = hit.messageLinkCount ?? 0;
  if (linkCount >= 2 && distinct >= linkCount) return bot('all_links_hit');
  if (distinct >= settings.linkBurstThreshold) return bot('link_burst');
  return { kind: 'human', reason: 'no_bot_signal' };
}

function machine(reason: MachineOpenReason): OpenClassification {
  return { kind: 'machine', reason };
}

function bot(reason: BotClickReason): ClickClassification {
  return { kind: 'bot', reason };
}

function methodRule(method: string): 'head_request' | 'unexpected_method' | null {
  const upper = typeof method === 'string' ? method.trim().toUpperCase() : '';
  if (upper === 'GET') return null;
  return upper === 'HEAD' ? 'head_request' : 'unexpected_method';
}

function normaliseUserAgent(userAgent: string | null | undefined): string {
  return typeof userAgent === 'string' ? userAgent.slice(0, MAX_USER_AGENT_CHARS).trim() : '';
}

function userAgentRule(userAgent: string): UserAgentReason | null {
  for (const rule of USER_AGENT_RULES) {
    if (rule.pattern.test(userAgent)) return rule.reason;
  }
  return null;
}

function isSooner(seconds: number | null | undefined, minimum: number): boolean {
  return typeof seconds === 'number' && !Number.isNaN(seconds) && seconds < minimum;
}

function isInRanges(ip: string | null | undefined, cidrs: readonly string[]): boolean {
  if (cidrs.length === 0) return false;
  const parsed = parseIpAddress(ip);
  if (parsed === null) return false;
  return compileCidrs(cidrs).some((cidr) => isIpInCidr(parsed, cidr));
}

/** Parses a range list once per array; an invalid entry is a configuration error and throws. */
function compileCidrs(cidrs: readonly string[]): readonly IpCidr[] {
  let compiled = compiledCidrs.get(cidrs);
  if (compiled === undefined) {
    compiled = cidrs.map((text) => {
      const cidr = parseCidr(text);
      if (cidr === null) throw new Error(`invalid CIDR range in appleProxyCidrs: ${JSON.stringify(text)}`);
      return cidr;
    });
    compiledCidrs.set(cidrs, compiled);
  }
  return compiled;
}
