-- Rendering nile_reset.email_templates: Nile's ${name} placeholders, stored
-- variables, built-ins that cannot be overridden, and no header injection.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
SELECT auth.add_trusted_origin('https://app.example.com');

-- The defaults exist.
SELECT name, subject, sender FROM nile_reset.email_templates ORDER BY name;

UPDATE nile_reset.email_templates
   SET subject = '${app_name}: reset for ${username}',
       sender = '${app_name} <${support}>',
       body = 'Hi ${username} (${email}), from ${sender}: ${api_url} ${unknown} ${not a name} ${api_url'
 WHERE name = 'password_reset';
INSERT INTO nile_reset.template_variables VALUES
  ('app_name', 'Acme'), ('support', 'help@acme.example'), ('api_url', 'https://evil.example/phish');

INSERT INTO users.users (email, name) VALUES ('jane@example.com', 'Jane ${api_url}');
SELECT created FROM auth.generate_password_token('jane@example.com', 'https://app.example.com/', 'https://app.example.com/r');
-- The stored api_url does not replace the link; a value is never rendered twice.
SELECT sender, subject,
       regexp_replace(body, 'token=[0-9a-f]{64}', 'token=<64 hex>') AS body
  FROM nile_reset.email_outbox;

-- A user's name with CR/LF cannot add headers: the subject stays on one line.
INSERT INTO users.users (email, name) VALUES ('eve@example.com', E'Eve\r\nBcc: everyone@example.com');
SELECT created FROM auth.generate_password_token('eve@example.com', 'https://app.example.com/', 'https://app.example.com/r');
SELECT subject, subject ~ '[\r\n]' AS has_line_break FROM nile_reset.email_outbox WHERE recipient = 'eve@example.com';

-- Without a name, the greeting uses the email.
UPDATE nile_reset.email_templates SET subject = 'Hello ${username}' WHERE name = 'password_reset';
INSERT INTO users.users (email) VALUES ('anon@example.com');
SELECT created FROM auth.generate_password_token('anon@example.com', 'https://app.example.com/', 'https://app.example.com/r');
SELECT subject FROM nile_reset.email_outbox WHERE recipient = 'anon@example.com';

-- A missing template is a clear error and nothing is written.
DELETE FROM nile_reset.email_templates WHERE name = 'password_reset';
INSERT INTO users.users (email) VALUES ('late@example.com');
SELECT auth.generate_password_token('late@example.com', 'https://app.example.com/', 'https://app.example.com/r');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS tokens_for_late FROM nile_reset.verification_tokens WHERE identifier = 'late@example.com';
