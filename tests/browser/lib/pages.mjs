// Driving our own pages (`nile-reset serve --pages`): their addresses, submitting their forms,
// and a hostile page posting to them.
import assert from 'node:assert/strict';

import { screenshot, watchProblems } from './browser.mjs';
import { DATABASE } from './env.mjs';

/// The addresses of the pages of the served database on the shim at `origin`.
export function pagesOf(origin) {
  const base = `${origin}/v2/databases/${DATABASE}/auth/pages`;
  return { forgot: `${base}/forgot-password`, reset: `${base}/reset-password` };
}

/// Where `page` is, without its query (which may hold a token: failures are printed).
export const addressOf = (page) => page.url().split('?')[0];
/// Whether `page`'s address has a query.
export const hasQuery = (page) => new URL(page.url()).search !== '';

/// Clicks the page's submit button; the answer to the form's POST to `url` (before any
/// redirect it asks for is followed), once the page that results has loaded.
export async function submit(page, url) {
  const posted = page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST');
  await page.locator('button[type="submit"]').click();
  const response = await posted;
  await page.waitForLoadState('load');
  return response;
}

/// Opens, in the browser of `context` (which holds our cookies), a page of `forger` (another
/// origin) that posts `fields` to `action` as soon as it loads; the status of that POST.
export async function forge(t, context, { forger, action, fields, group, step }) {
  const attacker = await context.newPage();
  const problems = watchProblems(attacker);
  try {
    const query = new URLSearchParams({ action, ...fields });
    const posted = attacker.waitForResponse((r) => r.url() === action && r.request().method() === 'POST');
    await attacker.goto(`${forger}/forge?${query}`);
    const response = await posted;
    await attacker.waitForLoadState('load');
    await screenshot(t, attacker, group, step);
    assert.deepEqual(problems, []);
    return response.status();
  } finally {
    await attacker.close();
  }
}
