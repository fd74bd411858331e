const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes the character references that can appear in an attribute value (`&amp;`, `&#x3D;`, `&#39;`...). */
export function decodeHtmlEntities(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

export function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface RewriteOptions {
  /** Returns the click URL for link index i. */
  clickUrl: (index: number) => string;
  /** URLs never rewritten (unsubscribe, preferences): compared after decoding. */
  keepDirect: ReadonlySet<string>;
}

export interface RewriteResult {
  html: string;
  /** Original (decoded) URL of each rewritten link, by index. */
  links: string[];
}

// `<a` then attributes up to an href with a quoted or bare value.
const ANCHOR_HREF = /(<a\b[^>]*?\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;
const HTTP_URL = /^https?:\/\//i;
const NO_TRACK = /\sdata-tend-notrack\b/i;

/**
 * Replaces the href of every `<a>` pointing at an http(s) URL by a signed click
 * URL, indexing links in document order. mailto:, tel:, fragments, relative
 * links, the `keepDirect` URLs and anchors marked `data-tend-notrack` stay as they are.
 */
export function rewriteLinks(html: string, options: RewriteOptions): RewriteResult {
  const links: string[] = [];
  const out = html.replace(ANCHOR_HREF, (whole, prefix: string, dq?: string, sq?: string, bare?: string) => {
    const raw = dq ?? sq ?? bare ?? '';
    const url = decodeHtmlEntities(raw).trim();
    if (!HTTP_URL.test(url) || options.keepDirect.has(url) || NO_TRACK.test(prefix)) return whole;
    const index = links.length;
    links.push(url);
    return `${prefix}"${escapeAttribute(options.clickUrl(index))}"`;
  });
  return { html: out, links };
}

/**
 * Puts the click URLs into the plain-text part: the text shows each link's original URL
 * (html-to-text writes `label [url]`) in the same document order as the HTML, so the
 * i-th original is replaced by the i-th click URL, searching onwards from the previous one.
 * A link the text does not show (an image-only anchor) is skipped.
 */
export function rewriteTextLinks(text: string, links: readonly string[], clickUrls: readonly string[]): string {
  let out = '';
  let cursor = 0;
  links.forEach((url, i) => {
    const click = clickUrls[i];
    if (click === undefined) return;
    const at = text.indexOf(url, cursor);
    if (at === -1) return;
    out += text.slice(cursor, at) + click;
    cursor = at + url.length;
  });
  return out + text.slice(cursor);
}

/** Inserts the open pixel just before `</body>` (or at the end when there is none). */
export function addOpenPixel(html: string, pixelUrl: string): string {
  const img = `<img src="${escapeAttribute(pixelUrl)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
  const at = html.toLowerCase().lastIndexOf('</body>');
  return at === -1 ? html + img : html.slice(0, at) + img + html.slice(at);
}
