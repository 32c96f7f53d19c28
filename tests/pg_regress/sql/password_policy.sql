-- The new-password policy: minimum length (setting), at most 72 bytes,
-- no control characters. A refused password changes nothing.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SET nile_reset.bcrypt_cost = 4;

-- Too short (default minimum 8 characters): 22023.
SELECT auth.reset_password('jane@example.com', :'token', 'seven77');
\echo :LAST_ERROR_SQLSTATE
-- Characters, not bytes: 7 two-byte characters are still too short.
SELECT auth.reset_password('jane@example.com', :'token', 'ééééééé');
\echo :LAST_ERROR_SQLSTATE
-- Over 72 bytes (bcrypt's limit): 22001, also when 25 characters make 75 bytes.
SELECT auth.reset_password('jane@example.com', :'token', repeat('x', 73));
\echo :LAST_ERROR_SQLSTATE
SELECT auth.reset_password('jane@example.com', :'token', repeat('€', 25));
\echo :LAST_ERROR_SQLSTATE
-- Control characters: 22023.
SELECT auth.reset_password('jane@example.com', :'token', E'password\n123');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.reset_password('jane@example.com', :'token', E'pass\tword123');
\echo :LAST_ERROR_SQLSTATE
-- NULLs: 22004.
SELECT auth.reset_password('jane@example.com', :'token', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT auth.reset_password(NULL, :'token', 'a good password');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.reset_password('jane@example.com', NULL, 'a good password');
\echo :LAST_ERROR_SQLSTATE
-- The messages never contain the password.
SELECT auth.reset_password('jane@example.com', :'token', E'hunter2\x01');

-- Nothing changed: no credential, the token is still live, no alert.
SELECT (SELECT count(*) FROM auth.credentials) AS credentials,
       (SELECT status FROM auth.verify_password_token('jane@example.com', :'token')) AS token_status,
       (SELECT count(*) FROM nile_reset.email_outbox WHERE kind = 'password_alert') AS alerts,
       (SELECT count(*) FROM nile_reset.verification_tokens) AS tokens;

-- A higher minimum set by the DBA.
SET nile_reset.min_password_length = 12;
SELECT auth.reset_password('jane@example.com', :'token', 'eleven char');
\echo :LAST_ERROR_SQLSTATE
-- Exactly at the limits is fine: 12 characters, and 72 bytes.
SELECT auth.reset_password('jane@example.com', :'token', repeat('€', 24)) IS NOT NULL AS reset_with_72_bytes;

-- The policy on its own (auth.check_new_password, for clients that check a
-- password before asking for a link): the same errors, and no token needed.
SELECT auth.check_new_password('seven77');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.check_new_password(repeat('€', 25));
\echo :LAST_ERROR_SQLSTATE
SELECT auth.check_new_password(E'pass\tword123');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.check_new_password(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT 'accepted' AS result FROM auth.check_new_password('a good password');
