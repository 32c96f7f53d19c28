-- Templates per locale with fallbacks, and the optional HTML body: values
-- HTML-escaped there, rendered once, the text body unchanged.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('https://app.example.com');
DROP TABLE IF EXISTS public.members;
CREATE TABLE public.members (id bigint PRIMARY KEY, email text NOT NULL, pw text, full_name text, lang text);
INSERT INTO public.members VALUES
  (1, 'pt@example.com', NULL, 'Ana <b>&</b> "Bia"', 'pt-BR'),
  (2, 'fr@example.com', NULL, 'Léa', 'fr_CA'),
  (3, 'de@example.com', NULL, 'Jörg', 'de'),
  (4, 'none@example.com', NULL, 'Nomad', NULL);
-- The seven-argument form still works; the locale column is the eighth.
SELECT auth.use_user_table('public.members', 'id', 'email', 'pw', 'bcrypt', 'full_name');
SELECT locale_column FROM nile_reset.user_directory;
SELECT auth.use_user_table('public.members', 'id', 'email', 'pw', 'bcrypt', 'full_name', locale_column => 'lang');
SELECT locale_column FROM nile_reset.user_directory;
SELECT auth.use_user_table('public.members', 'id', 'email', 'pw', 'bcrypt', locale_column => 'nope');
SELECT auth.use_user_table('public.members', 'id', 'email', 'pw', 'bcrypt', locale_column => 'id');

-- The defaults are English, without HTML.
SELECT name, locale, html_body IS NULL AS text_only FROM nile_reset.email_templates ORDER BY name;
INSERT INTO nile_reset.email_templates (name, locale, subject, body, html_body, sender) VALUES
  ('password_reset', 'pt', 'Redefina sua senha', 'Olá ${username}: ${api_url}',
   '<p>Olá <b>${username}</b>, <a href="${api_url}">redefinir</a> ${unknown}</p>', 'no-reply@localhost'),
  ('password_reset', 'fr', 'Réinitialisez votre mot de passe', 'Bonjour ${username}: ${api_url}', NULL, 'no-reply@localhost');
INSERT INTO nile_reset.email_templates (name, locale, subject, body, sender) VALUES
  ('password_reset', 'Not a locale', 'x', 'x', 'x');

SELECT count(*) FILTER (WHERE created) AS created
  FROM (SELECT (auth.generate_password_token(e, 'https://app.example.com/', 'https://app.example.com/r')).created
          FROM unnest(ARRAY['pt@example.com', 'fr@example.com', 'de@example.com', 'none@example.com']) e) g;
-- pt-BR gets pt (its language), fr_CA gets fr, de and no locale get the
-- default locale (en).
SELECT recipient, subject,
       regexp_replace(body, 'token=[0-9a-f]{64}[^ \n]*', 'token=<...>') AS body,
       regexp_replace(html_body, 'token=[0-9a-f]{64}[^"]*', 'token=<...>') AS html_body
  FROM nile_reset.email_outbox ORDER BY id;

-- nile_reset.default_locale picks the fallback.
DELETE FROM nile_reset.email_outbox;
UPDATE nile_reset.verification_tokens SET created = created - interval '1 day';
SET nile_reset.default_locale = 'fr';
SELECT created FROM auth.generate_password_token('de@example.com', 'https://app.example.com/', 'https://app.example.com/r');
SELECT recipient, subject FROM nile_reset.email_outbox;
RESET nile_reset.default_locale;

-- An administrator's row wins over the shipped default of its locale.
INSERT INTO nile_reset.email_templates (name, locale, subject, body, html_body, sender)
VALUES ('password_alert', 'en', 'Password changed, ${username}', 'Changed.', '<p>${username}</p>', 'no-reply@localhost');
UPDATE nile_reset.verification_tokens SET created = created - interval '1 day';
SELECT substring(link from 'token=([0-9a-f]{64})') AS token
  FROM auth.generate_password_link('none@example.com', 'https://app.example.com/', 'https://app.example.com/r') \gset
SELECT auth.reset_password('none@example.com', :'token', 'correct horse battery');
SELECT subject, body, html_body, link_expires IS NULL AS no_link FROM nile_reset.email_outbox WHERE kind = 'password_alert';

DROP EXTENSION nile_reset;
DROP TABLE public.members;
