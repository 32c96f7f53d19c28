-- nile_reset.min_resend_interval: a second request inside the window does
-- nothing and answers exactly like an unknown email.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');

SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT token AS first_digest FROM nile_reset.verification_tokens \gset
-- Inside the window (default 60 s): nothing happened, same shape as an unknown email.
SELECT * FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_token('nobody@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT token = :'first_digest' AS token_unchanged, (SELECT count(*) FROM nile_reset.email_outbox) AS emails
  FROM nile_reset.verification_tokens;

-- A link for a trusted caller (?json=true) is not held back: it sends no
-- email, so it replaces the token and queues nothing.
SELECT created, link IS NOT NULL AS has_link
  FROM auth.generate_password_link('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT token <> :'first_digest' AS token_replaced_by_link, (SELECT count(*) FROM nile_reset.email_outbox) AS emails
  FROM nile_reset.verification_tokens;
SELECT token AS first_digest FROM nile_reset.verification_tokens \gset

-- Once the window has passed (the clock moved by editing the row), a new token replaces the old.
UPDATE nile_reset.verification_tokens SET created = created - interval '61 seconds';
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT token <> :'first_digest' AS token_replaced, (SELECT count(*) FROM nile_reset.email_outbox) AS emails
  FROM nile_reset.verification_tokens;

-- A shorter window set by the DBA.
SET nile_reset.min_resend_interval = '10s';
UPDATE nile_reset.verification_tokens SET created = created - interval '11 seconds';
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
-- Zero disables the window.
SET nile_reset.min_resend_interval = 0;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT count(*) AS emails FROM nile_reset.email_outbox;
