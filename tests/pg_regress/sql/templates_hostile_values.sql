-- A user's name is substituted cleaned: no control characters (no fake
-- header lines such as "Bcc:"), no bidi overrides or isolates, no other
-- format characters, at most 200 characters; still rendered only once.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
UPDATE nile_reset.email_templates SET body = 'Hi ${username}!', html_body = '<p>Hi ${username}!</p>'
 WHERE name = 'password_reset';
INSERT INTO users.users (email, name) VALUES
  ('mallory@example.com',
   E'Mallory\r\nBcc: everyone@example.com\r\n\r\nYour account is locked, call +1 555 0100\u202Etxt.exe\u2066\u2069\u200B\u2028\u00AD\u0007${api_url}'
   || repeat('A', 10000));
SELECT created FROM auth.generate_password_token('mallory@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT body ~ '[\r\n]' AS has_line_break,
       body ~ '[\u202A-\u202E\u2066-\u2069\u200B\u2028\u00AD\u0007]' AS has_bidi_or_format,
       length(body) AS body_length,
       left(body, 110) AS body_start,
       html_body ~ '[\r\n\u202E]' AS html_has_line_break_or_bidi,
       length(html_body) AS html_length
  FROM nile_reset.email_outbox;

DROP EXTENSION nile_reset;
DROP TABLE auth.sessions, auth.credentials, users.users;
