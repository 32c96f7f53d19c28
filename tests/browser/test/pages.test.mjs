// Our own pages (`nile-reset serve --pages`) in Chromium: forgot password, the email from
// `nile-reset send`'s file transport, its link, a password the policy refuses, a good one
// (checked in SQL), the link refused once spent; forms posted to them from another site or
// another origin refused; the German pages for a German browser.
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';

import { launch, newContext, screenshot, showEmail, watchProblems } from '../lib/browser.mjs';
import {
  addUser,
  APP,
  closeDatabase,
  minPasswordLength,
  OTHER_SITE,
  passwordIs,
  README_SCREENSHOT,
  resetEmailsTo,
  SHIM,
  tokensOf,
} from '../lib/env.mjs';
import { nextEmailTo } from '../lib/mail.mjs';
import { addressOf, forge as forgeWith, hasQuery, pagesOf, submit as submitOn } from '../lib/pages.mjs';

const GROUP = 'pages';
const { forgot: FORGOT, reset: RESET } = pagesOf(SHIM);
/// Where the application wants its user after the reset (a trusted origin).
const CALLBACK = `${APP}/signed-in`;
const EMAIL = 'pages@example.com';
const PASSWORD = 'correct horse battery staple';

let browser;
let context;
let page;
let problems;
let message;

before(async () => {
  browser = await launch();
  context = await newContext(browser);
  page = await context.newPage();
  problems = watchProblems(page);
  for (const email of [EMAIL, 'pages-forged@example.com', 'pages-victim@example.com']) {
    await addUser(email);
  }
});

after(async () => {
  await browser?.close();
  await closeDatabase();
});

const cookieNamed = async (name) => (await context.cookies(SHIM)).find((c) => c.name === name);
const forgotUrl = () => `${FORGOT}?callbackUrl=${encodeURIComponent(CALLBACK)}`;

const submit = (url) => submitOn(page, url);
const forge = (t, forger, action, fields, step) => forgeWith(t, context, { forger, action, fields, group: GROUP, step });

/// Asks for a link through the forgot page, as the user would, and returns the email.
async function requestLink(email) {
  await page.goto(forgotUrl());
  await page.locator('#email').fill(email);
  assert.equal((await submit(FORGOT)).status(), 200);
  return nextEmailTo(email);
}

test('the forgot-password page: the email field, a CSRF token, the CSRF cookie', async (t) => {
  const response = await page.goto(forgotUrl());
  assert.equal(response.status(), 200);
  const email = page.locator('input#email[name="email"]');
  assert.equal(await email.count(), 1);
  assert.equal(await email.getAttribute('type'), 'email');
  const token = page.locator('input[type="hidden"][name="csrfToken"]');
  assert.equal(await token.count(), 1);
  assert.ok((await token.getAttribute('value'))?.length > 0, 'the form carries a CSRF token');
  const csrf = await cookieNamed('nile.csrf-token');
  assert.ok(csrf, 'the browser holds the CSRF cookie');
  assert.equal(csrf.httpOnly, true);
  assert.equal(csrf.sameSite, 'Lax');
  await screenshot(t, page, GROUP, 'forgot-form');
});

test('submitting it: 200 "check your email", one email queued', async (t) => {
  await page.locator('#email').fill(EMAIL);
  const response = await submit(FORGOT);
  assert.equal(response.status(), 200);
  assert.match(await page.locator('h1').textContent(), /check your email/i);
  await screenshot(t, page, GROUP, 'sent');
  assert.equal(await resetEmailsTo(EMAIL), 1);
  assert.equal(await tokensOf(EMAIL), 1);
});

test("nile-reset send delivers the email; its link is our reset page's, with the callback", async (t) => {
  message = await nextEmailTo(EMAIL);
  assert.ok(message.link, 'the email has a reset link');
  const link = new URL(message.link);
  assert.equal(`${link.origin}${link.pathname}`, RESET);
  assert.equal(link.searchParams.get('identifier'), EMAIL);
  assert.equal(link.searchParams.get('callbackUrl'), CALLBACK);
  await showEmail(page, message);
  await screenshot(t, page, GROUP, 'email');
});

test('opening the link: 303 to the page without the query, the reset cookie, the new-password form', async (t) => {
  const response = await page.goto(message.link);
  const first = await response.request().redirectedFrom()?.response();
  assert.equal(first?.status(), 303, 'the link answers 303');
  assert.equal(response.status(), 200);
  assert.equal(addressOf(page), RESET);
  assert.equal(hasQuery(page), false, 'the token left the address bar');
  const reset = await cookieNamed('nile.reset');
  assert.ok(reset, 'the browser holds the reset cookie');
  assert.equal(reset.httpOnly, true);
  assert.equal(reset.sameSite, 'Lax');
  const password = page.locator('input#password[name="password"]');
  assert.equal(await password.count(), 1);
  assert.equal(await password.getAttribute('type'), 'password');
  const file = await screenshot(t, page, GROUP, 'reset-form');
  if (README_SCREENSHOT) {
    await mkdir(dirname(README_SCREENSHOT), { recursive: true });
    await copyFile(file, README_SCREENSHOT);
    t.diagnostic(`README screenshot: ${README_SCREENSHOT}`);
  }
});

test("a too-short password: 400, the form again with the policy's message", async (t) => {
  const min = await minPasswordLength();
  const short = 'x'.repeat(min - 1);
  await page.locator('#password').fill(short);
  const response = await submit(RESET);
  assert.equal(response.status(), 400);
  assert.equal(await page.locator('#password').count(), 1, 'the form is shown again');
  assert.match(await page.locator('#password-error').textContent(), new RegExp(`at least ${min} characters`));
  await screenshot(t, page, GROUP, 'too-short');
  assert.equal(await passwordIs(EMAIL, short), false);
  assert.equal(await tokensOf(EMAIL), 1, 'the link still works');
});

test('a good password: 303 to the done page, whose link goes to the callback; stored (crypt() in SQL)', async (t) => {
  await page.locator('#password').fill(PASSWORD);
  const response = await submit(RESET);
  assert.equal(response.status(), 303);
  const done = page.locator('a#continue');
  assert.equal(await done.count(), 1, `the done page at ${addressOf(page)}`);
  assert.equal(await done.getAttribute('href'), CALLBACK);
  await screenshot(t, page, GROUP, 'done');
  assert.ok(await passwordIs(EMAIL, PASSWORD));
  assert.equal(await tokensOf(EMAIL), 0, 'the token is spent');
  assert.equal(await cookieNamed('nile.reset'), undefined, 'the reset cookie is gone');
});

test('the same link again: 400, the invalid-link page, no form', async (t) => {
  const response = await page.goto(message.link);
  assert.equal(response.status(), 400);
  assert.equal(await page.locator('#password').count(), 0);
  assert.match(await page.locator('h1').textContent(), /invalid|expired/i);
  await screenshot(t, page, GROUP, 'link-spent');
  assert.ok(await passwordIs(EMAIL, PASSWORD), 'the password is unchanged');
});

/// The CSRF token our forgot page gives this browser now (a hostile page cannot read it; these
/// tests hand it over, so that only the origin checks stand in the way).
async function currentCsrfToken() {
  await page.goto(forgotUrl());
  return page.locator('input[name="csrfToken"]').getAttribute('value');
}

test('the forgot form posted from another site (even with a valid CSRF token): 403, no email', async (t) => {
  const email = 'pages-forged@example.com';
  const csrfToken = await currentCsrfToken();
  const status = await forge(t, OTHER_SITE, FORGOT, { email, csrfToken }, 'forged-forgot-other-site');
  assert.equal(status, 403);
  assert.equal(await resetEmailsTo(email), 0);
});

test('the forgot form posted from another origin of the same site (another port): 403, no email', async (t) => {
  const email = 'pages-forged@example.com';
  const csrfToken = await currentCsrfToken();
  const status = await forge(t, APP, FORGOT, { email, csrfToken }, 'forged-forgot-same-site');
  assert.equal(status, 403);
  assert.equal(await resetEmailsTo(email), 0);
});

test('the reset form posted from another site to a browser holding a valid reset cookie: 403, password unchanged', async (t) => {
  const email = 'pages-victim@example.com';
  const victimLink = (await requestLink(email)).link;
  await page.goto(victimLink);
  assert.equal(addressOf(page), RESET);
  const csrfToken = await page.locator('input[name="csrfToken"]').getAttribute('value');
  for (const [forger, step] of [
    [OTHER_SITE, 'forged-reset-other-site'],
    [APP, 'forged-reset-same-site'],
  ]) {
    const status = await forge(t, forger, RESET, { password: 'chosen by the attacker', csrfToken }, step);
    assert.equal(status, 403, step);
  }
  assert.equal(await passwordIs(email, 'chosen by the attacker'), false);
  assert.equal(await tokensOf(email), 1, 'the link is not spent');
  // The user's own form still works.
  await page.goto(RESET);
  await page.locator('#password').fill(PASSWORD);
  assert.equal((await submit(RESET)).status(), 303);
  assert.ok(await passwordIs(email, PASSWORD));
});

test('another site cannot show our pages in a frame', async (t) => {
  const framing = await context.newPage();
  const framingProblems = watchProblems(framing);
  try {
    await framing.goto(`${OTHER_SITE}/frame?${new URLSearchParams({ src: forgotUrl() })}`);
    await framing.waitForLoadState('load');
    const framed = framing.frameLocator('#framed');
    assert.equal(await framed.locator('#email').count(), 0, 'the form is not shown');
    await screenshot(t, framing, GROUP, 'framed-by-other-site');
    assert.ok(
      framingProblems.some((p) => p.includes('frame-ancestors')),
      `Chromium refused the frame for frame-ancestors: ${JSON.stringify(framingProblems)}`,
    );
  } finally {
    await framing.close();
  }
});

test('a German browser gets the German pages', async (t) => {
  const german = await newContext(browser, { locale: 'de-DE' });
  try {
    const de = await german.newPage();
    const deProblems = watchProblems(de);
    await de.goto(forgotUrl());
    assert.equal(await de.locator('html').getAttribute('lang'), 'de');
    assert.match(await de.locator('h1').textContent(), /Passwort/);
    await screenshot(t, de, GROUP, 'forgot-form-de');
    assert.deepEqual(deProblems, []);
  } finally {
    await german.close();
  }
});

test('no page error, console error (a refused Content-Security-Policy is one) or failed request', () => {
  assert.deepEqual(problems, []);
});
