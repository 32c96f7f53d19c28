-- Every input rule raises a precise SQLSTATE naming the argument, never
-- echoing the value, and writes nothing.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');

-- NULL arguments: 22004.
SELECT auth.generate_password_token(NULL, 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', NULL, 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_link(NULL, 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE

-- Emails: empty (22023), over 254 characters (22001), control characters (22023).
SELECT auth.generate_password_token('', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token(repeat('a', 243) || '@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token(E'jane@example.com\r\nBcc: all@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token(E'jane@example.com\n', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token(E'ja\x01ne@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE

-- URLs: not absolute http(s) (22023).
SELECT auth.generate_password_token('jane@example.com', 'ftp://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'javascript:alert(1)');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', '/done', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http:localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://');
\echo :LAST_ERROR_SQLSTATE
-- Userinfo (22023).
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://admin:secret@localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http://evil.example@localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
-- Control characters and spaces (22023); the WHATWG parser would drop them silently.
SELECT auth.generate_password_token('jane@example.com', E'http://localhost:3000/\r\nSet-Cookie: x', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', E'http://local\thost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/a b', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
-- Over 2048 characters (22001).
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/' || repeat('x', 2027), 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
-- Exactly 2048 is fine.
SELECT created FROM auth.generate_password_link('nobody@example.com', 'http://localhost:3000/' || repeat('x', 2026), 'http://localhost:3000/r');
-- Origins not on the allow-list (22023), including another port or scheme of a trusted host.
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'https://evil.example/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'https://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3001/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_link('jane@example.com', 'http://localhost:3000/', 'http://127.0.0.1:3000/r');
\echo :LAST_ERROR_SQLSTATE
-- An untrusted origin is an error even for an unknown email (nothing leaks either way).
SELECT auth.generate_password_token('nobody@example.com', 'http://localhost:3000/', 'https://evil.example/r');
\echo :LAST_ERROR_SQLSTATE
-- Case and default ports do not matter: origins are normalized.
SELECT created FROM auth.generate_password_link('jane@example.com', 'HTTP://LOCALHOST:3000/', 'http://localhost:3000/r');

-- Nothing above wrote anything but the one link token.
SELECT (SELECT count(*) FROM nile_reset.verification_tokens) AS tokens, (SELECT count(*) FROM nile_reset.email_outbox) AS emails;

-- The allow-list functions apply the same URL rules.
SELECT auth.add_trusted_origin('https://App.Example.com:443/');
SELECT auth.add_trusted_origin('https://app.example.com/reset');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin('ftp://app.example.com');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT origin FROM nile_reset.trusted_origins ORDER BY origin;
SELECT auth.remove_trusted_origin('https://app.example.com');
SELECT auth.remove_trusted_origin('https://app.example.com');
SELECT origin FROM nile_reset.trusted_origins ORDER BY origin;

-- auth.is_trusted_url: the same URL rules and allow-list, as a boolean for
-- callers that redirect to a URL they were handed.
SELECT url, auth.is_trusted_url(url)
  FROM (VALUES ('http://localhost:3000/done?x=1'), ('HTTP://LOCALHOST:3000'), ('http://localhost:3001/'),
               ('https://evil.example/'), ('javascript:alert(1)'), (E'http://localhost:3000/\r\nX: y'),
               ('http://user@localhost:3000/'), ('not a url'), ('')) AS t(url);
-- Authorities other URL parsers read differently are refused, as the HTTP
-- shim refuses them (one rule: nile_reset_urls): to WHATWG the first is
-- localhost, to RFC 3986 parsers it is evil.example.net.
SELECT url, auth.is_trusted_url(url)
  FROM (VALUES (E'http://localhost:3000\\@evil.example.net/'), ('http:///localhost:3000/'),
               ('http://local%68ost:3000/')) AS t(url);
SELECT auth.is_trusted_url(NULL) IS NULL AS null_in_null_out;
