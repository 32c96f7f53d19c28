// Our own pages over HTTPS, as deployed: a TLS proxy in front of `nile-reset serve --pages
// --public-url https://...`. The cookies are then __Secure-nile.csrf-token and
// __Secure-nile.reset with Secure; the flow works with them, a form posted from another site is
// refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launch, newContext, screenshot, watchProblems } from '../lib/browser.mjs';
import { addUser, APP, closeDatabase, OTHER_SITE, passwordIs, resetEmailsTo, SHIM_TLS, tokensOf } from '../lib/env.mjs';
import { nextEmailTo } from '../lib/mail.mjs';
import { addressOf, forge, hasQuery, pagesOf, submit } from '../lib/pages.mjs';

const GROUP = 'pages-tls';
const { forgot: FORGOT, reset: RESET } = pagesOf(SHIM_TLS);
const CALLBACK = `${APP}/signed-in`;
const EMAIL = 'pages-tls@example.com';
const PASSWORD = 'correct horse battery staple';

let browser;
let context;
let page;
let problems;
let link;

before(async () => {
  browser = await launch();
  context = await newContext(browser, { tls: true });
  page = await context.newPage();
  problems = watchProblems(page);
  await addUser(EMAIL);
  await addUser('pages-tls-forged@example.com');
});

after(async () => {
  await browser?.close();
  await closeDatabase();
});

const cookies = async () => context.cookies(SHIM_TLS);
const cookieNamed = async (name) => (await cookies()).find((c) => c.name === name);
const forgotUrl = () => `${FORGOT}?callbackUrl=${encodeURIComponent(CALLBACK)}`;

test('the forgot-password page over HTTPS sets __Secure-nile.csrf-token (Secure, HttpOnly, Lax) and no plain one', async (t) => {
  assert.equal((await page.goto(forgotUrl())).status(), 200);
  assert.equal(await page.locator('#email').count(), 1);
  const csrf = await cookieNamed('__Secure-nile.csrf-token');
  assert.ok(csrf, 'the browser holds __Secure-nile.csrf-token');
  assert.equal(csrf.secure, true);
  assert.equal(csrf.httpOnly, true);
  assert.equal(csrf.sameSite, 'Lax');
  assert.equal(await cookieNamed('nile.csrf-token'), undefined);
  await screenshot(t, page, GROUP, 'forgot-form');
});

test('submitting it: 200, an email whose link is the HTTPS reset page', async (t) => {
  await page.locator('#email').fill(EMAIL);
  assert.equal((await submit(page, FORGOT)).status(), 200);
  await screenshot(t, page, GROUP, 'sent');
  assert.equal(await resetEmailsTo(EMAIL), 1);
  link = (await nextEmailTo(EMAIL)).link;
  assert.ok(link, 'the email has a reset link');
  const url = new URL(link);
  assert.equal(`${url.origin}${url.pathname}`, RESET);
  assert.equal(url.searchParams.get('callbackUrl'), CALLBACK);
});

test('the link: 303 to the form, __Secure-nile.reset (Secure, HttpOnly, Lax)', async (t) => {
  const response = await page.goto(link);
  assert.equal((await response.request().redirectedFrom()?.response())?.status(), 303);
  assert.equal(addressOf(page), RESET);
  assert.equal(hasQuery(page), false, 'the token left the address bar');
  const reset = await cookieNamed('__Secure-nile.reset');
  assert.ok(reset, 'the browser holds __Secure-nile.reset');
  assert.equal(reset.secure, true);
  assert.equal(reset.httpOnly, true);
  assert.equal(reset.sameSite, 'Lax');
  assert.equal(await cookieNamed('nile.reset'), undefined);
  assert.equal(await page.locator('#password').count(), 1);
  await screenshot(t, page, GROUP, 'reset-form');
});

test('the reset form posted from another site: 403, nothing changed', async (t) => {
  const csrfToken = await page.locator('input[name="csrfToken"]').getAttribute('value');
  const status = await forge(t, context, {
    forger: OTHER_SITE,
    action: RESET,
    fields: { password: 'chosen by the attacker', csrfToken },
    group: GROUP,
    step: 'forged-reset',
  });
  assert.equal(status, 403);
  assert.equal(await passwordIs(EMAIL, 'chosen by the attacker'), false);
  assert.equal(await tokensOf(EMAIL), 1);
});

test('a good password: 303 to the done page; stored (crypt() in SQL), the link spent, the cookie gone', async (t) => {
  await page.goto(RESET);
  await page.locator('#password').fill(PASSWORD);
  assert.equal((await submit(page, RESET)).status(), 303);
  assert.equal(await page.locator('a#continue').getAttribute('href'), CALLBACK);
  await screenshot(t, page, GROUP, 'done');
  assert.ok(await passwordIs(EMAIL, PASSWORD));
  assert.equal(await tokensOf(EMAIL), 0);
  assert.equal(await cookieNamed('__Secure-nile.reset'), undefined);
});

test('the forgot form posted from another site (with a valid CSRF token): 403, no email', async (t) => {
  await page.goto(forgotUrl());
  const csrfToken = await page.locator('input[name="csrfToken"]').getAttribute('value');
  const email = 'pages-tls-forged@example.com';
  const status = await forge(t, context, {
    forger: OTHER_SITE,
    action: FORGOT,
    fields: { email, csrfToken },
    group: GROUP,
    step: 'forged-forgot',
  });
  assert.equal(status, 403);
  assert.equal(await resetEmailsTo(email), 0);
});

test('no page error, console error (a refused Content-Security-Policy is one) or failed request', () => {
  assert.deepEqual(problems, []);
});
