-- Roll the caller's transaction back and nothing happened: no token, no email.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');

BEGIN;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT (SELECT count(*) FROM nile_reset.verification_tokens) AS tokens, (SELECT count(*) FROM nile_reset.email_outbox) AS emails;
ROLLBACK;
SELECT (SELECT count(*) FROM nile_reset.verification_tokens) AS tokens, (SELECT count(*) FROM nile_reset.email_outbox) AS emails;

-- Rolled back to a savepoint: the same.
BEGIN;
SAVEPOINT before_reset;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
ROLLBACK TO SAVEPOINT before_reset;
COMMIT;
SELECT (SELECT count(*) FROM nile_reset.verification_tokens) AS tokens, (SELECT count(*) FROM nile_reset.email_outbox) AS emails;

-- The rolled-back attempts left no trace for the resend interval either.
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT (SELECT count(*) FROM nile_reset.verification_tokens) AS tokens, (SELECT count(*) FROM nile_reset.email_outbox) AS emails;
