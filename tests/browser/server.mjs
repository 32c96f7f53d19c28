// The app around Nile's React forms: serves the bundle that build.mjs made and mounts
// @niledatabase/server's route handlers (nile.handlers, what a Next.js app mounts under
// /api/[...nile]) under /api, pointed at `nile-reset serve`, as an application configures
// Nile's SDK. Also serves the pages of a hostile site for the checks of our own pages: /forge
// posts a form to another origin as soon as it loads, /frame shows another page in a frame.
//
// Environment: NILE_RESET_BROWSER_API_URL (e.g. http://127.0.0.1:28847/v2/databases/browser),
// NILE_RESET_BROWSER_APP_DIR (the bundle), NILE_RESET_BROWSER_LISTEN (space-separated
// host:port addresses, the same app on each; host:port/secure: there the SDK is configured with
// secureCookies: true, as in production, and the shim's cookies are the __Secure- ones).
// Prints "listening on http://host:port" for each address once it accepts connections.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { extname, join } from 'node:path';

import { Server } from '@niledatabase/server';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: start the server through tests/browser/run.sh`);
  }
  return value;
}

const apiUrl = required('NILE_RESET_BROWSER_API_URL');
const appDir = required('NILE_RESET_BROWSER_APP_DIR');
const listen = required('NILE_RESET_BROWSER_LISTEN').split(/\s+/).filter(Boolean);

// The SDK's info logs print whole responses; only errors are kept (no secrets in them).
const quiet = () => ({
  info() {},
  debug() {},
  silly() {},
  warn() {},
  error(...args) {
    console.error('[nile]', ...args);
  },
});

/// The SDK as an application configures it (one instance per cookie mode).
const nile = (secureCookies) =>
  new Server({
    apiUrl,
    databaseName: new URL(apiUrl).pathname.split('/').pop(),
    user: 'postgres',
    password: 'unused',
    secureCookies,
    logger: quiet,
  });

// Every page of the app is the same document; the bundle picks the form by path. The policy
// allows no inline script: the bundle and the stylesheet are files of this origin.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');
const PAGES = new Set(['/forgot-password', '/reset-password']);
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html; charset=utf-8' };
const ASSETS = new Set(['/app/app.js', '/app/styles.css', '/forge.js']);

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/// `/forge?action=URL&name=value...`: a form posting the other parameters to URL, submitted
/// by forge.js once the page loads.
function forgePage(url) {
  const action = url.searchParams.get('action') ?? '';
  const fields = [...url.searchParams]
    .filter(([name]) => name !== 'action')
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title>
<script src="/forge.js" defer></script></head>
<body><h1>Another site</h1>
<form id="forged" method="post" action="${escapeHtml(action)}">
${fields}
<button type="submit">Send</button>
</form></body></html>`;
}

/// The Node request as the web Request the handlers take.
async function toRequest(req) {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const init = { method: req.method, headers };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const chunks = [];
    for await (const chunk of req) {
      chunks.push(chunk);
    }
    init.body = Buffer.concat(chunks);
  }
  return new Request(url, init);
}

/// The handlers' web Response onto the Node response: every Set-Cookie kept apart, the
/// framing headers left to Node (fetch has already decoded the body).
async function send(res, response) {
  const skip = new Set(['set-cookie', 'content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive']);
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (!skip.has(name)) {
      res.setHeader(name, value);
    }
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) {
    res.setHeader('set-cookie', cookies);
  }
  res.end(Buffer.from(await response.arrayBuffer()));
}

async function handle(sdk, req, res) {
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (url.pathname.startsWith('/api/')) {
    const handler = sdk.handlers[req.method];
    if (!handler) {
      res.writeHead(405).end();
      return;
    }
    const response = await handler(await toRequest(req));
    if (!response) {
      res.writeHead(404).end();
      return;
    }
    await send(res, response);
    return;
  }
  if (req.method !== 'GET') {
    res.writeHead(405).end();
    return;
  }
  if (PAGES.has(url.pathname)) {
    const html = await readFile(join(appDir, 'index.html'));
    res.writeHead(200, { 'content-type': TYPES['.html'], 'content-security-policy': CSP, 'cache-control': 'no-store' });
    res.end(html);
    return;
  }
  if (ASSETS.has(url.pathname)) {
    const file = join(appDir, url.pathname.split('/').pop());
    res.writeHead(200, { 'content-type': TYPES[extname(file)], 'cache-control': 'no-store' });
    res.end(await readFile(file));
    return;
  }
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (url.pathname === '/frame') {
    const src = escapeHtml(url.searchParams.get('src') ?? '');
    res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
    res.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>
<body><h1>Another site, framing a page</h1>
<iframe id="framed" src="${src}" width="700" height="400"></iframe></body></html>`);
    return;
  }
  if (url.pathname === '/forge') {
    res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
    res.end(forgePage(url));
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
}

for (const entry of listen) {
  const [address, mode] = entry.split('/');
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  const port = Number(address.slice(at + 1));
  const sdk = nile(mode === 'secure');
  const server = http.createServer((req, res) => {
    handle(sdk, req, res).catch((error) => {
      console.error(`${req.method} ${req.url?.split('?')[0]}: ${error.message}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
      }
      res.end('internal error');
    });
  });
  server.listen(port, host, () => console.log(`listening on http://${host}:${port}`));
}
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
