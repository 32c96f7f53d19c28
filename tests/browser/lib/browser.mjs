// Debian's chromium, headless, driven over the DevTools protocol by playwright-core (which
// brings no browser of its own), and the screenshots every step leaves.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { SCREENSHOT_DIR } from './env.mjs';

export const EXECUTABLE = process.env.NILE_RESET_BROWSER_CHROMIUM ?? '/usr/bin/chromium';

// What Chromium needs here: no sandbox (CI runs as root too), no GPU, and none of its own
// connections to the network (the machine has none to give it). playwright-core starts it with
// a new, empty profile (--user-data-dir) each time.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launch() {
  return chromium.launch({ executablePath: EXECUTABLE, headless: true, args: ARGS, timeout: 60_000 });
}

/// A new browser profile: its own cookies, an 800x600 window, the given locale; `tls`: the
/// test's self-signed certificate is accepted.
export async function newContext(browser, { locale = 'en-US', tls = false } = {}) {
  const context = await browser.newContext({
    viewport: { width: 800, height: 600 },
    locale,
    ignoreHTTPSErrors: tls,
  });
  context.setDefaultTimeout(20_000);
  return context;
}

/// Records what a page reports as broken: uncaught errors, console errors (a refused
/// Content-Security-Policy is one) and failed requests.
export function watchProblems(page) {
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // An answer's HTTP status is each test's own assertion, not a problem of the page.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('requestfailed', (request) => {
    // A navigation away from a page cancels its pending requests: not a failure.
    if (request.failure()?.errorText !== 'net::ERR_ABORTED') {
      problems.push(`request failed: ${request.method()} ${request.url().split('?')[0]}: ${request.failure()?.errorText}`);
    }
  });
  return problems;
}

let counter = 0;
/// Saves a screenshot of the page as NN-group-step.png and names it in the test's output.
export async function screenshot(t, page, group, step) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  counter += 1;
  const file = join(SCREENSHOT_DIR, `${String(counter).padStart(2, '0')}-${group}-${step}.png`);
  await page.screenshot({ path: file });
  t.diagnostic(`screenshot: ${file}`);
  return file;
}

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/// Shows an email in the page as a mail client would show its text, with the token of its
/// link masked (the screenshot is kept with the test's output).
export async function showEmail(page, email) {
  const masked = email.text.replace(/token=[^&\s]+/g, 'token=[hidden]');
  // A blank document first: one of the pages under test would keep its own
  // Content-Security-Policy for this content.
  await page.goto('about:blank');
  await page.setContent(`<!doctype html><html><body style="font-family: sans-serif; margin: 24px">
<h2>Email delivered by nile-reset send (file transport)</h2>
<p><b>To:</b> ${escapeHtml(email.to)}<br><b>Subject:</b> ${escapeHtml(email.subject)}<br>
<b>File:</b> ${escapeHtml(email.file)}</p>
<pre style="white-space: pre-wrap; border: 1px solid #ccc; padding: 12px">${escapeHtml(masked)}</pre>
</body></html>`);
}
