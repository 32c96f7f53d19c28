-- auth.generate_password_tokens: many emails in one statement (a breach
-- response), the single call's rules for each, one row per element in
-- input order.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email, name, deleted) VALUES
  ('u1@example.com', 'One', NULL), ('u2@example.com', 'Two', NULL),
  ('u3@example.com', NULL, NULL), ('gone@example.com', 'Gone', now());

SELECT * FROM auth.generate_password_tokens(
  ARRAY['u3@example.com', 'nobody@example.com', 'U1@EXAMPLE.COM', 'u3@example.com', 'gone@example.com'],
  'http://localhost:3000/', 'http://localhost:3000/r');
SELECT recipient, kind, link_expires = t.expires AS carries_expiry,
       regexp_replace(body, 'token=[0-9a-f]{64}[^ \n]*', 'token=<...>') ~ 'token=<...>' AS has_link
  FROM nile_reset.email_outbox o JOIN nile_reset.verification_tokens t ON t.identifier = o.recipient
 ORDER BY o.id;
-- Inside the resend interval nothing more is created.
SELECT * FROM auth.generate_password_tokens(ARRAY['u1@example.com'], 'http://localhost:3000/', 'http://localhost:3000/r');
-- An empty array is no error.
SELECT count(*) FROM auth.generate_password_tokens('{}', 'http://localhost:3000/', 'http://localhost:3000/r');

-- The single call's argument rules, naming the element; nothing is queued.
SELECT * FROM auth.generate_password_tokens(ARRAY['u2@example.com', NULL], 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_tokens(ARRAY['u2@example.com', ''], 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_tokens(ARRAY['u2@example.com', E'a@b\nBcc: c@d'], 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_tokens(NULL, 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT * FROM auth.generate_password_tokens(ARRAY['u2@example.com'], 'https://evil.example/', 'http://localhost:3000/r');
SELECT count(*) AS queued FROM nile_reset.email_outbox;

-- The README's breach-response recipe: everyone whose account matches.
UPDATE nile_reset.verification_tokens SET created = created - interval '1 day';
SELECT count(*) FILTER (WHERE created) AS created, count(*) AS asked
  FROM auth.generate_password_tokens(
         (SELECT array_agg(email ORDER BY email) FROM users.users WHERE deleted IS NULL AND email LIKE 'u%'),
         'http://localhost:3000/', 'http://localhost:3000/r');
SELECT count(*) AS queued FROM nile_reset.email_outbox;

DROP EXTENSION nile_reset;
DROP TABLE auth.sessions, auth.credentials, users.users;
