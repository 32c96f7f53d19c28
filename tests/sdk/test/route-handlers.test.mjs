// The SDK's route handlers (nile.handlers, what a Next.js app mounts under /api/[...nile]),
// called with the Request objects a browser's fetch would produce.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { addUser, APP_ORIGIN, closeDatabase, emailsTo, KEY_COOKIE, nile, REDIRECT_URL, tokensOf } from '../lib/env.mjs';

after(closeDatabase);

const RESET_ROUTE = `${APP_ORIGIN}/api/auth/reset-password`;

/// The browser's CSRF cookie, obtained through the app's /api/auth/csrf route.
async function browserCsrfCookie(sdk) {
  const response = await sdk.handlers.GET(new Request(`${APP_ORIGIN}/api/auth/csrf`));
  assert.equal(response.status, 200);
  const cookie = /nile\.csrf-token=[^;]+/.exec(response.headers.get('set-cookie') ?? '');
  assert.ok(cookie, 'the csrf route sets the CSRF cookie');
  return cookie[0];
}

function browserPost(url, cookie, body) {
  return new Request(url, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

test("a browser's POST ?json=true through the handlers gets 401, with or without the key in the backend", async () => {
  const email = 'browser-json@example.com';
  await addUser(email);
  const body = { email, password: 'correct horse battery staple', callbackUrl: '/', redirectUrl: REDIRECT_URL };
  const plain = nile();
  const cookie = await browserCsrfCookie(plain);
  const backends = {
    'no key in the backend': (request) => plain.handlers.POST(request),
    'key in the backend context': (request) =>
      nile().withContext({ headers: { cookie: KEY_COOKIE } }, (n) => n.handlers.POST(request)),
    'key in the backend configuration': (request) =>
      nile({ headers: { cookie: KEY_COOKIE } }).handlers.POST(request),
  };
  for (const [backend, handle] of Object.entries(backends)) {
    const response = await handle(browserPost(`${RESET_ROUTE}?json=true`, cookie, body));
    const text = await response.text();
    assert.equal(response.status, 401, `${backend}: ${text}`);
    assert.doesNotMatch(text, /token=|url/, `${backend}: the answer carries no link`);
  }
  assert.equal(await tokensOf(email), 0, 'no link was ever issued');
});

test("the React forms' reset request (relative callbackUrl '/') through the handlers: 201, email queued", async () => {
  const email = 'browser-form@example.com';
  await addUser(email);
  const sdk = nile();
  const cookie = await browserCsrfCookie(sdk);
  const response = await sdk.handlers.POST(
    browserPost(RESET_ROUTE, cookie, { email, callbackUrl: '/', redirectUrl: REDIRECT_URL }),
  );
  assert.equal(response.status, 201, await response.text());
  assert.equal(await emailsTo(email, 'password_reset'), 1);

  // Without the CSRF cookie the forms' request is refused (404, Nile's "Missing csrf").
  const other = 'browser-form-nocsrf@example.com';
  await addUser(other);
  const refused = await sdk.handlers.POST(
    browserPost(RESET_ROUTE, '', { email: other, callbackUrl: '/', redirectUrl: REDIRECT_URL }),
  );
  assert.equal(refused.status, 404);
  assert.equal(await tokensOf(other), 0);
});
