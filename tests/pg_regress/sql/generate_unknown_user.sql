-- Unknown and deleted users: nothing is written and the answer is the same
-- "nothing happened" as for a request inside the resend interval.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
INSERT INTO users.users (email, deleted) VALUES ('gone@example.com', now());

SELECT * FROM auth.generate_password_token('nobody@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_token('gone@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_link('nobody@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT (SELECT count(*) FROM auth.verification_tokens) AS tokens, (SELECT count(*) FROM auth.email_outbox) AS emails;

-- A deleted user and a live user may share an email; only the live one is used.
INSERT INTO users.users (email) VALUES ('GONE@example.com');
SELECT created FROM auth.generate_password_token('gone@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT recipient FROM auth.email_outbox;
