-- Unknown and deleted users: nothing is written and the answer is the same
-- "nothing happened" as for a request inside the resend interval.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email, deleted) VALUES ('gone@example.com', now());

SELECT * FROM auth.generate_password_token('nobody@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_token('gone@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_link('nobody@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT (SELECT count(*) FROM nile_reset.verification_tokens) AS tokens, (SELECT count(*) FROM nile_reset.email_outbox) AS emails;

-- A deleted user and a live user may share an email; only the live one is used.
INSERT INTO users.users (email) VALUES ('GONE@example.com');
SELECT created FROM auth.generate_password_token('gone@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT recipient FROM nile_reset.email_outbox;
