-- A backend keeps what the last pair of URLs parsed to (an app passes the
-- same two on every call), but never more than that: a different URL is
-- parsed and checked again, an invalid one between two good calls raises,
-- and trust is checked on every call.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');
SET nile_reset.min_resend_interval = 0;
SELECT auth.add_trusted_origin('https://app.example.com');

-- The same pair twice, then another redirect URL, then another callback URL:
-- each link is built from the URLs of its own call.
SELECT regexp_replace(link, 'token=[0-9a-f]{64}', 'token=T') AS link
  FROM auth.generate_password_link('jane@example.com', 'http://localhost:3000/done', 'http://localhost:3000/r?lang=fr#top');
SELECT regexp_replace(link, 'token=[0-9a-f]{64}', 'token=T') AS link
  FROM auth.generate_password_link('jane@example.com', 'http://localhost:3000/done', 'http://localhost:3000/r?lang=fr#top');
SELECT regexp_replace(link, 'token=[0-9a-f]{64}', 'token=T') AS link
  FROM auth.generate_password_link('jane@example.com', 'http://localhost:3000/done', 'https://app.example.com/reset');
SELECT regexp_replace(link, 'token=[0-9a-f]{64}', 'token=T') AS link
  FROM auth.generate_password_link('jane@example.com', 'https://app.example.com/', 'https://app.example.com/reset');

-- An invalid or untrusted URL after a good pair raises (22023), and the good
-- pair works again after it.
SELECT created FROM auth.generate_password_link('jane@example.com', 'https://app.example.com/', 'javascript:alert(1)');
\echo :LAST_ERROR_SQLSTATE
SELECT created FROM auth.generate_password_link('jane@example.com', 'ftp://app.example.com/', 'https://app.example.com/reset');
\echo :LAST_ERROR_SQLSTATE
SELECT created FROM auth.generate_password_link('jane@example.com', 'https://app.example.com/', 'https://evil.example/reset');
\echo :LAST_ERROR_SQLSTATE
SELECT created FROM auth.generate_password_link('jane@example.com', 'https://app.example.com/', 'https://app.example.com/reset');

-- The same pair once its origin is no longer trusted: refused (22023), by
-- both functions, until it is trusted again.
SELECT auth.remove_trusted_origin('https://app.example.com');
SELECT created FROM auth.generate_password_link('jane@example.com', 'https://app.example.com/', 'https://app.example.com/reset');
\echo :LAST_ERROR_SQLSTATE
SELECT created FROM auth.generate_password_token('jane@example.com', 'https://app.example.com/', 'https://app.example.com/reset');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin('https://app.example.com');
SELECT created FROM auth.generate_password_token('jane@example.com', 'https://app.example.com/', 'https://app.example.com/reset');

-- The email carries the link of its own call.
SELECT regexp_replace(substring(body FROM 'https?://[^ \n]*'), 'token=[0-9a-f]{64}', 'token=T') AS emailed_link
  FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1;
