// resetPassword(): the SDK's whole POST ?json=true, GET, PUT sequence, with the API key given
// to the SDK as the nile-reset.api-key cookie.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import {
  addUser,
  APP_ORIGIN,
  CALLBACK_URL,
  closeDatabase,
  KEY_COOKIE,
  nile,
  passwordIs,
  REDIRECT_URL,
  tokensOf,
} from '../lib/env.mjs';
import { inFreshProcess } from '../lib/fresh.mjs';

after(closeDatabase);

const PASSWORD = 'correct horse battery staple';

/// resetPassword as a backend calls it: the key cookie in the SDK's context.
function resetPassword(sdk, args) {
  return sdk.withContext({ headers: { cookie: KEY_COOKIE } }, (n) => n.auth.resetPassword(args));
}

test('in a fresh process: 204 and the new password is stored', async () => {
  const email = 'reset-fresh@example.com';
  await addUser(email);
  const answer = await inFreshProcess(
    'resetPassword',
    { email, password: PASSWORD, callbackUrl: CALLBACK_URL, redirectUrl: REDIRECT_URL },
    KEY_COOKIE,
  );
  assert.equal(answer.status, 204, JSON.stringify(answer));
  assert.ok(await passwordIs(email, PASSWORD));
  assert.equal(await tokensOf(email), 0, 'the token is spent');
});

test('after getCsrf: 204 and the new password is stored', async () => {
  const sdk = nile();
  await sdk.auth.getCsrf();
  const email = 'reset-after-csrf@example.com';
  await addUser(email);
  const response = await resetPassword(sdk, {
    email,
    password: PASSWORD,
    callbackUrl: CALLBACK_URL,
    redirectUrl: REDIRECT_URL,
  });
  assert.equal(response.status, 204);
  assert.ok(await passwordIs(email, PASSWORD));
});

test('two resetPassword() calls in a row both succeed: the resend interval holds back emails, not links', async () => {
  const sdk = nile();
  const email = 'reset-twice@example.com';
  await addUser(email);
  for (const password of [PASSWORD, `${PASSWORD} again`]) {
    const response = await resetPassword(sdk, {
      email,
      password,
      callbackUrl: CALLBACK_URL,
      redirectUrl: REDIRECT_URL,
    });
    assert.equal(response.status, 204);
    assert.ok(await passwordIs(email, password));
  }
});

test('without the key cookie the SDK cannot reset', async () => {
  const email = 'reset-nokey@example.com';
  await addUser(email);
  const answer = await inFreshProcess('resetPassword', {
    email,
    password: PASSWORD,
    callbackUrl: CALLBACK_URL,
    redirectUrl: REDIRECT_URL,
  });
  assert.match(answer.error ?? '', /reset token is missing/);
  assert.equal(await tokensOf(email), 0);
  assert.equal(await passwordIs(email, PASSWORD), false);
});

test('a password the policy refuses: 400 with its message and no link; the retry works', async () => {
  const sdk = nile();
  const email = 'reset-policy@example.com';
  await addUser(email);
  const args = { email, callbackUrl: CALLBACK_URL, redirectUrl: REDIRECT_URL };
  const refused = await resetPassword(sdk, { ...args, password: 'short' });
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /^new_password must be at least \d+ characters$/);
  assert.equal(await tokensOf(email), 0, 'no link was issued');

  const retried = await resetPassword(sdk, { ...args, password: PASSWORD });
  assert.equal(retried.status, 204);
  assert.ok(await passwordIs(email, PASSWORD));
});

test("a relative callbackUrl (the React forms' default '/') resolves to the app's origin", async () => {
  const sdk = nile();
  const email = 'reset-relative@example.com';
  await addUser(email);
  const response = await resetPassword(sdk, {
    email,
    password: PASSWORD,
    callbackUrl: '/',
    redirectUrl: REDIRECT_URL,
  });
  assert.equal(response.status, 204);
  assert.ok(await passwordIs(email, PASSWORD));
});

test("no callbackUrl: Nile's nile.callback-url cookie is used", async () => {
  const sdk = nile();
  const email = 'reset-cookie-callback@example.com';
  await addUser(email);
  const cookie = `nile.callback-url=${encodeURIComponent(`${APP_ORIGIN}/after-reset`)}; ${KEY_COOKIE}`;
  const response = await sdk.withContext({ headers: { cookie } }, (n) =>
    // callbackUrl present but empty: the SDK sends null, so only the cookie can supply it.
    n.auth.resetPassword({ email, password: PASSWORD, callbackUrl: undefined, redirectUrl: REDIRECT_URL }),
  );
  assert.equal(response.status, 204);
  assert.ok(await passwordIs(email, PASSWORD));
});

test('a relative callbackUrl on an untrusted origin is refused, nothing issued', async () => {
  const sdk = nile({ origin: 'https://evil.example' });
  const email = 'reset-untrusted@example.com';
  await addUser(email);
  const response = await resetPassword(sdk, {
    email,
    password: PASSWORD,
    callbackUrl: '/',
    redirectUrl: REDIRECT_URL,
  });
  assert.equal(response.status, 400);
  assert.match(await response.text(), /callback_url/);
  assert.equal(await tokensOf(email), 0);
});
