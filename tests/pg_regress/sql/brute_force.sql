-- The brute-force guard: after nile_reset.max_failed_attempts wrong tokens
-- the identifier's token is revoked; the account itself is not locked.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset

-- Four wrong guesses are counted; the right token still works.
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('0', 64));
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('1', 64));
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('2', 64));
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('3', 64));
SELECT failed_attempts FROM nile_reset.verification_tokens;
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
-- The fifth wrong guess (default limit 5) revokes the token: now the right one is invalid too.
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('4', 64));
SELECT failed_attempts FROM nile_reset.verification_tokens;
SELECT * FROM auth.verify_password_token('jane@example.com', :'token');
SET nile_reset.bcrypt_cost = 4;
SELECT auth.reset_password('jane@example.com', :'token', 'a new password');
\echo :LAST_ERROR_SQLSTATE

-- Guesses against an unknown identifier write nothing.
SELECT status FROM auth.verify_password_token('nobody@example.com', repeat('0', 64));
SELECT count(*) AS token_rows FROM nile_reset.verification_tokens;

-- No lockout: once the resend interval has passed the user gets a new, working token.
UPDATE nile_reset.verification_tokens SET created = created - interval '61 seconds';
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
SELECT failed_attempts FROM nile_reset.verification_tokens;
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');

-- A lower limit set by the DBA.
SET nile_reset.max_failed_attempts = 1;
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('9', 64));
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
