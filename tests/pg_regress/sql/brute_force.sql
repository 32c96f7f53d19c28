-- The brute-force guard throttles, it never locks out: wrong tokens never
-- revoke the user's token. After nile_reset.max_failed_attempts wrong
-- tokens for an identifier, its checks are blocked until last_failure +
-- failure_block x 2^(failures - max_failed_attempts), at most
-- max_failure_block; a blocked check answers invalid without comparing or
-- counting anything, so an attacker's guesses during a block neither
-- lengthen it nor learn anything, and the right token works once it ends.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
-- Short clocks for the test.
SET nile_reset.max_failed_attempts = 3;
SET nile_reset.failure_block = '500ms';
SET nile_reset.max_failure_block = '2s';

-- Three wrong guesses are counted; the token is not revoked.
SELECT string_agg(v.status, ',') AS attacker
  FROM generate_series(1, 3) g, LATERAL auth.verify_password_token('jane@example.com', lpad(g::text, 64, '0')) v;
SELECT failed_attempts, last_failure IS NOT NULL AS has_last_failure, expires > now() AS still_live
  FROM nile_reset.verification_tokens;
-- Blocked for 500 ms: even the right token is answered invalid, unchecked;
-- fifty more guesses in the block change nothing.
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SELECT count(*) FILTER (WHERE v.status = 'invalid') AS refused
  FROM generate_series(1, 50) g, LATERAL auth.verify_password_token('jane@example.com', lpad(g::text, 64, '7')) v;
SELECT failed_attempts FROM nile_reset.verification_tokens;
-- The block ends: the user's link works.
SELECT pg_sleep(0.6);
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');

-- The attacker's next wrong guess after the block counts and doubles it
-- (1 s); its loop during the block is refused unchecked again.
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('e', 64));
SELECT count(*) FILTER (WHERE v.status = 'invalid') AS refused
  FROM generate_series(1, 100) g, LATERAL auth.verify_password_token('jane@example.com', lpad(g::text, 64, 'f')) v;
SELECT failed_attempts FROM nile_reset.verification_tokens;
SELECT pg_sleep(0.4);
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SELECT pg_sleep(0.7);
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');

-- However many failures, a block lasts at most max_failure_block (2 s here).
UPDATE nile_reset.verification_tokens SET failed_attempts = 40, last_failure = now();
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SELECT pg_sleep(2.1);
-- And the victim completes the reset with the link from the email.
SET nile_reset.bcrypt_cost = 4;
SELECT auth.reset_password('jane@example.com', :'token', 'a new password') IS NOT NULL AS reset_done;
SELECT count(*) AS token_rows FROM nile_reset.verification_tokens;

-- Guesses against an identifier without a token write nothing.
SELECT status FROM auth.verify_password_token('nobody@example.com', repeat('0', 64));
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('0', 64));
SELECT count(*) AS token_rows FROM nile_reset.verification_tokens;

-- A new token starts with a clean slate.
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
UPDATE nile_reset.verification_tokens SET failed_attempts = 9, last_failure = now();
UPDATE nile_reset.verification_tokens SET created = created - interval '61 seconds';
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT failed_attempts, last_failure FROM nile_reset.verification_tokens;
