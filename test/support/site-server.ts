import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for a customer's website in the browser tests: a few static pages on
 * 127.0.0.1, each including Tend's snippet the way the installation guide says:
 *
 *   <script async src="<tend>/t/s.js"></script>
 *
 * The origin it reports uses the name `localhost` (which Chromium resolves to the
 * loopback address itself), so the site and Tend (`127.0.0.1`) are different sites
 * to the browser, as a customer's site and a Tend deployment are in production.
 */
export interface SiteServer {
  /** e.g. `http://localhost:41234`; what SITE_ORIGINS must list. */
  origin: string;
  port: number;
  /** Every request the site received, in order, as `METHOD /path?query`. */
  requests: string[];
  close(): Promise<void>;
}

export interface SiteServerOptions {
  /** Tend's public base URL, where the pages load the snippet from. */
  tendBaseUrl: string;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
}

interface Page {
  title: string;
  body: string;
  /** Extra inline script, run before the snippet loads. */
  script?: string;
}

const NAV = `<nav>
  <a href="/">Home</a> <a href="/pricing">Pricing</a> <a href="/docs/getting-started">Docs</a>
  <a href="/signup">Sign up</a> <a href="/app">App</a>
</nav>`;

/**
 * Calls `tend.<method>(...)` once the snippet has loaded, or queues the call in
 * `tend.q` for the snippet to replay (the documented pattern for early calls).
 */
const TEND_CALL = `function tendCall(method) {
  var args = Array.prototype.slice.call(arguments, 1);
  if (typeof window.tend[method] === 'function') window.tend[method].apply(null, args);
  else window.tend.q.push([method].concat(args));
}`;

const PAGES: Record<string, Page> = {
  '/': { title: 'Acme - Home', body: '<h1>Acme</h1><p>Customer success, automated.</p>' },
  '/pricing': { title: 'Acme - Pricing', body: '<h1>Pricing</h1><p>Starter, Team, Enterprise.</p>' },
  '/docs/getting-started': {
    title: 'Acme - Getting started',
    body: '<h1 id="docs-title">Getting started</h1><p>Install the agent, then invite your team.</p>',
  },
  '/signup': {
    title: 'Acme - Sign up for updates',
    body: `<h1>Stay in touch</h1>
<form id="signup">
  <label>Email <input id="email" name="email" type="email" required></label>
  <button id="submit" type="submit">Subscribe</button>
</form>
<p id="status"></p>`,
    script: `document.addEventListener('DOMContentLoaded', function () {
  document.getElementById('signup').addEventListener('submit', function (event) {
    event.preventDefault();
    var email = document.getElementById('email').value;
    tendCall('identify', { email: email });
    document.getElementById('status').textContent = 'Thanks, ' + email;
  });
});`,
  },
  // A single-page app: in-app links change the route with history.pushState.
  '/app': {
    title: 'Acme App',
    body: `<h1 id="route">/app</h1>
<a id="to-settings" data-spa href="/app/settings">Settings</a>
<a id="to-reports" data-spa href="/app/reports">Reports</a>
<button id="opt-out" type="button">Do not track me</button>
<button id="opt-in" type="button">Allow tracking</button>`,
    script: `document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('a[data-spa]').forEach(function (link) {
    link.addEventListener('click', function (event) {
      event.preventDefault();
      history.pushState({ route: link.getAttribute('href') }, '', link.getAttribute('href'));
      document.getElementById('route').textContent = location.pathname;
      document.title = 'Acme App ' + location.pathname;
    });
  });
  document.getElementById('opt-out').addEventListener('click', function () { tendCall('optOut'); });
  document.getElementById('opt-in').addEventListener('click', function () { tendCall('optIn'); });
});`,
  },
};

function renderPage(page: Page, tendBaseUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${page.title}</title>
<script>window.tend = window.tend || { q: [] };
${TEND_CALL}
${page.script ?? ''}</script>
<script async src="${tendBaseUrl}/t/s.js"></script>
</head>
<body>
${NAV}
<main>${page.body}</main>
</body>
</html>
`;
}

function pageFor(pathname: string): Page | undefined {
  // The app's client-side routes load the same shell when opened directly.
  if (pathname.startsWith('/app/')) return PAGES['/app'];
  return PAGES[pathname];
}

export async function startSiteServer(options: SiteServerOptions): Promise<SiteServer> {
  const requests: string[] = [];
  const tendBaseUrl = options.tendBaseUrl.replace(/\/+$/, '');
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const target = request.url ?? '/';
    requests.push(`${request.method ?? 'GET'} ${target}`);
    const { pathname } = new URL(target, 'http://site.invalid');
    const page = request.method === 'GET' || request.method === 'HEAD' ? pageFor(pathname) : undefined;
    if (pathname === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    if (!page) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
      return;
    }
    response
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(renderPage(page, tendBaseUrl));
  };
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Browsers keep connections alive; do not wait for them to time out.
        server.closeAllConnections();
      }),
  };
}
