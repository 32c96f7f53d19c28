-- Who may reset, by the application's own rule (user_filter): Django's
-- inactive users and unusable passwords, Supabase's bans and single-sign-on
-- twins. A user who fails the filter gets no token and does not count as a
-- second holder of their address; a token issued before they failed it is
-- refused at verify and reset. Through an email lookup table, the same.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.auth_user, public.sb_users, public.sb_emails;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
SET nile_reset.bcrypt_cost = 4;
SET nile_reset.min_resend_interval = 0;

CREATE FUNCTION pg_temp.tokens_for(emails text[]) RETURNS TABLE (email text, created boolean)
LANGUAGE sql AS $$
    SELECT e, (auth.generate_password_token(e, 'http://localhost:3000/', 'http://localhost:3000/r')).created
      FROM unnest(emails) WITH ORDINALITY AS t(e, n) ORDER BY n
$$;
-- The token of the last reset email sent to `email`.
CREATE FUNCTION pg_temp.token_of(email text) RETURNS text
LANGUAGE sql AS $$
    SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox
     WHERE recipient = email AND kind = 'password_reset' ORDER BY id DESC LIMIT 1
$$;

-- Django: is_active, and unusable passwords ('!' and 40 random characters,
-- set_unusable_password()), which Django's own reset form skips.
CREATE TABLE public.auth_user (
    id        integer PRIMARY KEY,
    password  varchar(128) NOT NULL,
    email     varchar(254) NOT NULL,
    is_active boolean NOT NULL DEFAULT true
);
INSERT INTO public.auth_user VALUES
  (1, 'pbkdf2_sha256$1000$salt$hash', 'active@example.com', true),
  (2, 'pbkdf2_sha256$1000$salt$hash', 'inactive@example.com', false),
  (3, '!Jq8vMZy3bWc1eXk2dNf5gHs7tLr9pAo0uIi4yTe6', 'unusable@example.com', true);
SELECT auth.use_user_table('public.auth_user', 'id', 'email', 'password', 'django_pbkdf2_sha256',
    user_filter => $$is_active AND password NOT LIKE '!%'$$);
SELECT user_filter FROM nile_reset.user_directory;
SELECT * FROM pg_temp.tokens_for(ARRAY['active@example.com', 'inactive@example.com', 'unusable@example.com']);

-- Deactivated after the token was sent: refused at verify and reset.
SELECT pg_temp.token_of('active@example.com') AS token \gset
UPDATE public.auth_user SET is_active = false WHERE id = 1;
SELECT status FROM auth.verify_password_token('active@example.com', :'token');
SELECT auth.reset_password('active@example.com', :'token', 'a new password');
\echo :LAST_ERROR_SQLSTATE
SELECT password = 'pbkdf2_sha256$1000$salt$hash' AS password_unchanged FROM public.auth_user WHERE id = 1;

-- Supabase: auth.users' banned_until (banned while in the future) and
-- is_sso_user (a single-sign-on account may share its email with a
-- password account), with deleted_at as the disabled column.
CREATE TABLE public.sb_users (
    id                 uuid PRIMARY KEY,
    email              varchar(255),
    encrypted_password varchar(255),
    is_sso_user        boolean NOT NULL DEFAULT false,
    banned_until       timestamptz,
    deleted_at         timestamptz
);
INSERT INTO public.sb_users (id, email, encrypted_password, is_sso_user, banned_until) VALUES
  ('00000000-0000-0000-0000-000000000001', 'banned@example.com', '', false, now() + interval '1 day'),
  ('00000000-0000-0000-0000-000000000002', 'unbanned@example.com', '', false, now() - interval '1 day'),
  ('00000000-0000-0000-0000-000000000003', 'twin@example.com', '', false, NULL),
  ('00000000-0000-0000-0000-000000000004', 'TWIN@example.com', '', true, NULL),
  ('00000000-0000-0000-0000-000000000005', 'later@example.com', '', false, NULL);

-- Without a filter the banned user may reset, and the twins share their
-- address, so neither gets a token.
SELECT auth.use_user_table('public.sb_users', 'id', 'email', 'encrypted_password', 'bcrypt',
    disabled_column => 'deleted_at');
SELECT * FROM pg_temp.tokens_for(ARRAY['banned@example.com', 'twin@example.com']);
DELETE FROM nile_reset.verification_tokens;

SELECT auth.use_user_table('public.sb_users', 'id', 'email', 'encrypted_password', 'bcrypt',
    disabled_column => 'deleted_at',
    user_filter => 'NOT is_sso_user AND (banned_until IS NULL OR banned_until <= now())');
SELECT * FROM pg_temp.tokens_for(ARRAY['banned@example.com', 'unbanned@example.com', 'twin@example.com', 'later@example.com']);

-- A ban that ended lets the user reset; the password user of the twins
-- resets their own password, never the single-sign-on account's.
SELECT auth.reset_password('unbanned@example.com', pg_temp.token_of('unbanned@example.com'), 'a new password') AS user_id;
SELECT auth.reset_password('twin@example.com', pg_temp.token_of('twin@example.com'), 'a new password') AS user_id;
SELECT id, encrypted_password LIKE '$2a$04$%' AS password_set FROM public.sb_users ORDER BY id;

-- Banned after the token was sent: refused at verify and reset.
SELECT pg_temp.token_of('later@example.com') AS token \gset
UPDATE public.sb_users SET banned_until = now() + interval '1 hour' WHERE email = 'later@example.com';
SELECT status FROM auth.verify_password_token('later@example.com', :'token');
SELECT auth.reset_password('later@example.com', :'token', 'a new password');
\echo :LAST_ERROR_SQLSTATE
SELECT encrypted_password = '' AS password_unchanged FROM public.sb_users WHERE email = 'later@example.com';

-- Through an email lookup table: each candidate is confirmed in the users
-- table with the filter, so the twin's row does not count either.
CREATE TABLE public.sb_emails (email text NOT NULL, user_id uuid NOT NULL);
INSERT INTO public.sb_emails SELECT lower(email), id FROM public.sb_users;
SELECT auth.use_email_lookup('public.sb_emails', 'email', 'user_id');
DELETE FROM nile_reset.verification_tokens;
SELECT * FROM pg_temp.tokens_for(ARRAY['banned@example.com', 'unbanned@example.com', 'twin@example.com']);

DROP EXTENSION nile_reset;
DROP TABLE public.auth_user, public.sb_users, public.sb_emails;
