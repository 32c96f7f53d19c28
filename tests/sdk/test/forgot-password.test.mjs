// forgotPassword(): Nile's SDK asking the shim to email a reset link.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { addUser, CALLBACK_URL, closeDatabase, emailsTo, nile, REDIRECT_URL, tokensOf } from '../lib/env.mjs';
import { inFreshProcess } from '../lib/fresh.mjs';

after(closeDatabase);

test('without a CSRF cookie: 404, nothing issued', async () => {
  const email = 'forgot-nocsrf@example.com';
  await addUser(email);
  // A fresh process: the SDK holds no CSRF cookie yet.
  const answer = await inFreshProcess('forgotPassword', {
    email,
    callbackUrl: CALLBACK_URL,
    redirectUrl: REDIRECT_URL,
  });
  assert.equal(answer.status, 404);
  assert.equal(await tokensOf(email), 0);
});

test('after getCsrf: 201 and an email queued; an unknown email: 200, nothing queued', async () => {
  const sdk = nile();
  await sdk.auth.getCsrf();
  const email = 'forgot-known@example.com';
  await addUser(email);
  const known = await sdk.auth.forgotPassword({ email, callbackUrl: CALLBACK_URL, redirectUrl: REDIRECT_URL });
  assert.equal(known.status, 201);
  assert.equal(await emailsTo(email, 'password_reset'), 1);
  assert.equal(await tokensOf(email), 1);

  const unknown = await sdk.auth.forgotPassword({
    email: 'nobody@example.com',
    callbackUrl: CALLBACK_URL,
    redirectUrl: REDIRECT_URL,
  });
  assert.equal(unknown.status, 200);
  assert.equal(await emailsTo('nobody@example.com', 'password_reset'), 0);
});
