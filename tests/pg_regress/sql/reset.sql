-- auth.reset_password: consumes the token once, stores a bcrypt hash in
-- Nile's credential shape, deletes tokens and sessions, queues the alert.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
CREATE EXTENSION IF NOT EXISTS pgcrypto;
INSERT INTO users.users (id, email, name) VALUES
  ('00000000-0000-0000-0000-00000000000a', 'Jane@example.com', 'Jane'),
  ('00000000-0000-0000-0000-00000000000b', 'bob@example.com', 'Bob');
-- An old password, two sessions of Jane, one of Bob.
INSERT INTO auth.credentials (user_id, method, payload) VALUES
  ('00000000-0000-0000-0000-00000000000a', 'EMAIL_PASSWORD', '{"crypt": "crypt-bf/8", "hash": "old", "email": "Jane@example.com"}');
INSERT INTO auth.sessions (session_token, user_id, expires_at) VALUES
  ('s1', '00000000-0000-0000-0000-00000000000a', now() + interval '1 day'),
  ('s2', '00000000-0000-0000-0000-00000000000a', now() + interval '1 day'),
  ('s3', '00000000-0000-0000-0000-00000000000b', now() + interval '1 day');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT created FROM auth.generate_password_token('bob@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox WHERE recipient = 'Jane@example.com' \gset

-- Bob's token does not open Jane's account.
SELECT auth.reset_password('jane@example.com',
  (SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox WHERE recipient = 'bob@example.com'),
  'a new password');
\echo :LAST_ERROR_SQLSTATE

SET nile_reset.bcrypt_cost = 6;
SELECT auth.reset_password('JANE@example.com', :'token', 'correct horse battery');

-- One live EMAIL_PASSWORD credential in Nile's payload shape; pgcrypto's crypt() accepts the hash.
SELECT method, provider, payload->>'crypt' AS crypt, payload->>'email' AS email,
       payload->>'hash' LIKE '$2a$06$%' AS is_bcrypt_2a,
       crypt('correct horse battery', payload->>'hash') = payload->>'hash' AS crypt_accepts_new_password,
       crypt('a wrong password', payload->>'hash') = payload->>'hash' AS crypt_accepts_wrong_password
  FROM auth.credentials WHERE deleted IS NULL;

-- Jane's tokens and sessions are gone; Bob's are untouched.
SELECT identifier FROM nile_reset.verification_tokens;
SELECT session_token FROM auth.sessions;

-- The password_alert email is queued.
SELECT kind, recipient, subject FROM nile_reset.email_outbox ORDER BY id;

-- The token worked once.
SELECT auth.reset_password('jane@example.com', :'token', 'another password');
\echo :LAST_ERROR_SQLSTATE
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');

-- A user without a credential gets one.
SET nile_reset.min_resend_interval = 0;
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS bob_token FROM nile_reset.email_outbox WHERE recipient = 'bob@example.com' \gset
SELECT auth.reset_password('bob@example.com', :'bob_token', 'bobs new password') = '00000000-0000-0000-0000-00000000000b' AS returns_user_id;
SELECT u.email, crypt('bobs new password', c.payload->>'hash') = c.payload->>'hash' AS password_set
  FROM auth.credentials c JOIN users.users u ON u.id = c.user_id ORDER BY u.email;
SELECT count(*) AS sessions_left FROM auth.sessions;

-- Rolled back, a reset changes nothing, and the token still works afterwards.
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token2 FROM nile_reset.email_outbox
 WHERE recipient = 'Jane@example.com' AND kind = 'password_reset' ORDER BY id DESC LIMIT 1 \gset
BEGIN;
SELECT auth.reset_password('jane@example.com', :'token2', 'rolled back password') IS NOT NULL AS reset_inside;
ROLLBACK;
SELECT crypt('correct horse battery', payload->>'hash') = payload->>'hash' AS old_password_still_set
  FROM auth.credentials WHERE user_id = '00000000-0000-0000-0000-00000000000a';
SELECT status FROM auth.verify_password_token('jane@example.com', :'token2');

-- A deleted user's token is useless.
UPDATE users.users SET deleted = now() WHERE email = 'Jane@example.com';
SELECT auth.reset_password('jane@example.com', :'token2', 'a new password');
\echo :LAST_ERROR_SQLSTATE
