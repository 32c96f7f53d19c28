// Nile's own React forms (@niledatabase/react, unmodified, bundled by esbuild) in Chromium,
// served by a Node app that mounts @niledatabase/server's route handlers pointed at
// `nile-reset serve`: request a reset, get the email from `nile-reset send`, open its link,
// choose a password (one the policy refuses first), and the link refused once spent. Once with
// the SDK's plain cookies, once with secureCookies: true (the __Secure- cookies).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, newContext, screenshot, showEmail, watchProblems } from '../lib/browser.mjs';
import {
  addUser,
  APP,
  APP_SECURE,
  closeDatabase,
  minPasswordLength,
  passwordIs,
  resetEmailsTo,
  tokensOf,
} from '../lib/env.mjs';
import { nextEmailTo } from '../lib/mail.mjs';

const PASSWORD = 'correct horse battery staple';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await closeDatabase();
});

/// The whole flow in a new browser profile against the app at `app`, whose cookies carry
/// `prefix` and the Secure attribute when `secure`.
function flow({ label, app, secure, email }) {
  const prefix = secure ? '__Secure-' : '';
  const group = `react-${label}`;
  let context;
  let page;
  let problems;
  let message;

  before(async () => {
    context = await newContext(browser);
    page = await context.newPage();
    problems = watchProblems(page);
    await addUser(email);
  });
  after(async () => {
    await context?.close();
  });

  const cookieNamed = async (name) => (await context.cookies(app)).find((c) => c.name === `${prefix}${name}`);
  const status = () => page.locator('#status');

  /// Fills both password fields of PasswordResetForm and submits; the PUT's status.
  async function choose(password) {
    await page.locator('input[name="password"]').fill(password);
    await page.locator('input[name="confirmPassword"]').fill(password);
    const put = page.waitForResponse(
      (r) => r.url().startsWith(`${app}/api/auth/reset-password`) && r.request().method() === 'PUT',
    );
    await page.getByRole('button', { name: 'Update password' }).click();
    const answer = (await put).status();
    await status().waitFor();
    return answer;
  }

  test(`PasswordResetRequestForm: the ${prefix}nile.csrf-token cookie, then the request through the handlers; one email queued`, async (t) => {
    const csrfFetched = page.waitForResponse((r) => r.url() === `${app}/api/auth/csrf`);
    await page.goto(`${app}/forgot-password`);
    const input = page.locator('input[name="email"]');
    await input.waitFor();
    // The form fetches /api/auth/csrf when it mounts: the shim's cookie, through the handlers.
    assert.equal((await csrfFetched).status(), 200);
    const csrf = await cookieNamed('nile.csrf-token');
    assert.ok(csrf, `the browser holds ${prefix}nile.csrf-token`);
    assert.equal(csrf.httpOnly, true);
    assert.equal(csrf.sameSite, 'Lax');
    assert.equal(csrf.secure, secure);
    await screenshot(t, page, group, 'request-form');

    await input.fill(email);
    const posted = page.waitForResponse(
      (r) => r.url() === `${app}/api/auth/reset-password` && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Reset password' }).click();
    assert.equal((await posted).status(), 201);
    await status().waitFor();
    assert.equal(await status().getAttribute('data-state'), 'sent', await status().textContent());
    await screenshot(t, page, group, 'request-sent');
    assert.equal(await resetEmailsTo(email), 1);
    assert.equal(await tokensOf(email), 1);
  });

  test("nile-reset send delivers the email; its link goes to the app's handlers and back to the reset form", async (t) => {
    message = await nextEmailTo(email);
    assert.ok(message.link, 'the email has a reset link');
    const link = new URL(message.link);
    assert.equal(`${link.origin}${link.pathname}`, `${app}/api/auth/reset-password`);
    assert.equal(link.searchParams.get('identifier'), email);
    // The form's relative callbackUrl, resolved against the app's origin.
    assert.equal(link.searchParams.get('callbackUrl'), `${app}/reset-password`);
    await showEmail(page, message);
    await screenshot(t, page, group, 'email');
  });

  test(`the link sets ${prefix}nile.reset and lands on PasswordResetForm`, async (t) => {
    const response = await page.goto(message.link);
    assert.equal(response.status(), 200);
    // Compared without the query, which would hold the token had the redirect not happened.
    assert.equal(page.url().split('?')[0], `${app}/reset-password`);
    assert.ok(new URL(page.url()).search === '', 'the token left the address bar');
    const reset = await cookieNamed('nile.reset');
    assert.ok(reset, `the browser holds ${prefix}nile.reset`);
    assert.equal(reset.httpOnly, true);
    assert.equal(reset.sameSite, 'Lax');
    assert.equal(reset.secure, secure);
    assert.equal(reset.path, '/');
    await page.locator('input[name="password"]').waitFor();
    assert.equal(await status().count(), 0, 'no error on the page');
    await screenshot(t, page, group, 'reset-form');
  });

  test("a too-short password: refused with the policy's message, nothing changed", async (t) => {
    const min = await minPasswordLength();
    const short = 'x'.repeat(min - 1);
    assert.equal(await choose(short), 400);
    assert.equal(await status().getAttribute('data-state'), 'error');
    assert.equal(await status().textContent(), `new_password must be at least ${min} characters`);
    await screenshot(t, page, group, 'too-short');
    assert.equal(await passwordIs(email, short), false);
    assert.equal(await tokensOf(email), 1, 'the link still works');
  });

  test('a good password: accepted, stored (crypt() in SQL), the token spent, the cookie cleared', async (t) => {
    assert.equal(await choose(PASSWORD), 204);
    assert.equal(await status().getAttribute('data-state'), 'changed', await status().textContent());
    await screenshot(t, page, group, 'changed');
    assert.ok(await passwordIs(email, PASSWORD));
    assert.equal(await tokensOf(email), 0);
    assert.equal(await cookieNamed('nile.reset'), undefined, 'the reset cookie is gone');
  });

  test('the same link again: back on the form with "Token is invalid", no reset cookie', async (t) => {
    await page.goto(message.link);
    const url = new URL(page.url());
    assert.equal(`${url.origin}${url.pathname}`, `${app}/reset-password`);
    assert.equal(url.searchParams.get('error'), 'Token is invalid');
    await status().waitFor();
    assert.equal(await status().getAttribute('data-state'), 'link-error');
    assert.equal(await cookieNamed('nile.reset'), undefined);
    await screenshot(t, page, group, 'link-spent');
    assert.ok(await passwordIs(email, PASSWORD), 'the password is unchanged');
  });

  test('no page error, console error (a refused Content-Security-Policy is one) or failed request', () => {
    assert.deepEqual(problems, []);
  });
}

describe("Nile's React forms, plain cookies", () => {
  flow({ label: 'plain', app: APP, secure: false, email: 'react-plain@example.com' });
});

describe("Nile's React forms, secureCookies: true (__Secure- cookies)", () => {
  flow({ label: 'secure', app: APP_SECURE, secure: true, email: 'react-secure@example.com' });
});
