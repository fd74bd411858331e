/** The page shown for a link Tend cannot honour: says nothing about why, records nothing. */
export const NEUTRAL_PAGE_HTML = `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Link not available</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#333}</style></head>
<body><h1>このリンクは無効です</h1><p>リンクの有効期限が切れているか、正しくありません。</p>
<h1 lang="en">This link is not available</h1><p lang="en">It may have expired or been copied incorrectly.</p></body></html>`;

/** The page shown when a good link cannot be followed right now (database unreachable): try again later, nothing more. */
export const UNAVAILABLE_PAGE_HTML = `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Link temporarily unavailable</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#333}</style></head>
<body><h1>ただいまリンクを開けません</h1><p>しばらくしてから、もう一度メールのリンクを開いてください。</p>
<h1 lang="en">This link is temporarily unavailable</h1><p lang="en">Please open the link in the email again in a few minutes.</p></body></html>`;

/** A 43-byte transparent 1x1 GIF. */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
