-- Before a user directory is configured, every reset function says so
-- (55000, with the fix as HINT) before judging its URLs: an untrusted
-- origin is not the problem to report first.
\set VERBOSITY default
DROP EXTENSION IF EXISTS nile_reset CASCADE;
CREATE EXTENSION nile_reset;
SELECT created FROM auth.generate_password_token('ann@example.com', 'https://not-trusted.example/', 'https://not-trusted.example/r');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM auth.generate_password_tokens(ARRAY['ann@example.com'], 'https://not-trusted.example/', 'https://not-trusted.example/r');
\echo :LAST_ERROR_SQLSTATE
SELECT status FROM auth.verify_password_token('ann@example.com', repeat('0', 64));
\echo :LAST_ERROR_SQLSTATE
DROP EXTENSION nile_reset;
