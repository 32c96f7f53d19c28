-- Expiry: nile_reset.token_ttl sets it; an expired token cannot reset
-- (the clock is moved by editing the row, not by sleeping).
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');
SET nile_reset.token_ttl = '5min';
SELECT expires = now() + interval '5 minutes' AS expires_in_5_minutes
  FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SET nile_reset.bcrypt_cost = 4;

-- Five minutes and one second later:
UPDATE nile_reset.verification_tokens SET expires = expires - interval '5 minutes 1 second';
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SELECT auth.reset_password('jane@example.com', :'token', 'a new password');
\echo :LAST_ERROR_SQLSTATE
-- A wrong token on an expired row is just invalid (no hint that a token exists).
SELECT auth.reset_password('jane@example.com', repeat('a', 64), 'a new password');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS credentials FROM auth.credentials;

-- A fresh token (the old one has expired) works.
SET nile_reset.min_resend_interval = 0;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
SELECT auth.reset_password('jane@example.com', :'token', 'a new password') IS NOT NULL AS reset;

-- Live means later than the transaction's start (now()), however long the
-- transaction has run; a row revoked by 0.1.0 (expires = '-infinity') is
-- invalid even with its right token.
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
BEGIN;
UPDATE nile_reset.verification_tokens SET expires = now();
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
UPDATE nile_reset.verification_tokens SET expires = now() + interval '1 microsecond';
SELECT pg_sleep(0.01);
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
UPDATE nile_reset.verification_tokens SET expires = '-infinity';
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SELECT auth.reset_password('jane@example.com', :'token', 'another new password');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
