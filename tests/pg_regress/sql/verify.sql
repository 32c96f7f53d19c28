-- auth.verify_password_token: valid / invalid / expired, without consuming
-- the token; wrong, unknown and revoked all look the same.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('Jane@example.com');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset

-- The right token, any case of the identifier: valid, with its expiry. Twice: not consumed.
SELECT status, expires = (SELECT expires FROM nile_reset.verification_tokens) AS expiry_reported
  FROM auth.verify_password_token('jane@example.com', :'token');
SELECT status FROM auth.verify_password_token('JANE@EXAMPLE.COM', :'token');
SELECT count(*) AS tokens_left FROM nile_reset.verification_tokens;

-- Wrong token, unknown identifier, empty token: the same "invalid" and no expiry.
SELECT * FROM auth.verify_password_token('jane@example.com', repeat('0', 64));
SELECT * FROM auth.verify_password_token('nobody@example.com', :'token');
SELECT * FROM auth.verify_password_token('jane@example.com', '');
-- The stored digest is not a token: presenting it does not work.
SELECT status FROM auth.verify_password_token('jane@example.com', (SELECT token FROM nile_reset.verification_tokens));

-- NULLs are errors.
SELECT auth.verify_password_token(NULL, :'token');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.verify_password_token('jane@example.com', NULL);
\echo :LAST_ERROR_SQLSTATE

-- Expired: reported as such only to the holder of the right token (clock moved by editing the row).
UPDATE nile_reset.verification_tokens SET expires = now() - interval '1 second';
SELECT status, expires IS NOT NULL AS has_expiry FROM auth.verify_password_token('jane@example.com', :'token');
SELECT * FROM auth.verify_password_token('jane@example.com', repeat('f', 64));
