-- Roll the caller's transaction back and nothing happened: no token, no email.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
INSERT INTO users.users (email) VALUES ('jane@example.com');

BEGIN;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT (SELECT count(*) FROM auth.verification_tokens) AS tokens, (SELECT count(*) FROM auth.email_outbox) AS emails;
ROLLBACK;
SELECT (SELECT count(*) FROM auth.verification_tokens) AS tokens, (SELECT count(*) FROM auth.email_outbox) AS emails;

-- Rolled back to a savepoint: the same.
BEGIN;
SAVEPOINT before_reset;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
ROLLBACK TO SAVEPOINT before_reset;
COMMIT;
SELECT (SELECT count(*) FROM auth.verification_tokens) AS tokens, (SELECT count(*) FROM auth.email_outbox) AS emails;

-- The rolled-back attempts left no trace for the resend interval either.
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT (SELECT count(*) FROM auth.verification_tokens) AS tokens, (SELECT count(*) FROM auth.email_outbox) AS emails;
