-- The password_alert email says that every session was signed out only
-- when the reset ended them: Nile's shape (auth.sessions), or the
-- application's on_password_reset function ran. Otherwise the shipped
-- text says only that the password changed. ${sessions_note} carries the
-- sentence, also for an administrator's own template.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.accounts, auth.sessions, auth.credentials, users.users;
DROP FUNCTION IF EXISTS public.end_sessions(integer);
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
SET nile_reset.bcrypt_cost = 4;
SET nile_reset.min_resend_interval = 0;
SELECT body FROM nile_reset.email_templates WHERE name = 'password_alert' AND is_default;

CREATE TABLE public.accounts (id integer PRIMARY KEY, email text NOT NULL, password text);
INSERT INTO public.accounts VALUES (1, 'plain@example.com', NULL), (2, 'hooked@example.com', NULL),
                                   (3, 'own@example.com', NULL);
CREATE FUNCTION public.end_sessions(integer) RETURNS void LANGUAGE sql AS 'SELECT';
-- Resets `email` with a fresh token.
CREATE FUNCTION pg_temp.reset(email text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    token text;
BEGIN
    PERFORM auth.generate_password_token(email, 'http://localhost:3000/', 'http://localhost:3000/r');
    SELECT substring(o.body FROM 'token=([0-9a-f]{64})') INTO token FROM nile_reset.email_outbox o
     WHERE o.recipient = email AND o.kind = 'password_reset' ORDER BY o.id DESC LIMIT 1;
    RETURN auth.reset_password(email, token, 'a new password');
END
$$;
CREATE FUNCTION pg_temp.alert_of(email text) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT body FROM nile_reset.email_outbox
     WHERE recipient = email AND kind = 'password_alert' ORDER BY id DESC LIMIT 1
$$;

-- The application's table without a function: nothing was signed out.
SELECT auth.use_user_table('public.accounts', 'id', 'email', 'password', 'bcrypt');
SELECT pg_temp.reset('plain@example.com');
SELECT pg_temp.alert_of('plain@example.com');

-- With on_password_reset.
SELECT auth.use_user_table('public.accounts', 'id', 'email', 'password', 'bcrypt',
    on_password_reset => 'public.end_sessions(integer)');
SELECT pg_temp.reset('hooked@example.com');
SELECT pg_temp.alert_of('hooked@example.com');

-- An administrator's template uses the variable too.
INSERT INTO nile_reset.email_templates (name, subject, body, sender)
VALUES ('password_alert', 'Password changed', E'Password changed.${sessions_note}\nAcme support', 'support@acme.example');
SELECT pg_temp.reset('own@example.com');
SELECT pg_temp.alert_of('own@example.com');
SELECT auth.use_user_table('public.accounts', 'id', 'email', 'password', 'bcrypt');
SELECT pg_temp.reset('own@example.com');
SELECT pg_temp.alert_of('own@example.com');
DELETE FROM nile_reset.email_templates WHERE name = 'password_alert' AND NOT is_default;

-- Nile's shape ends the user's sessions.
SELECT auth.use_nile_users();
INSERT INTO users.users (id, email) VALUES ('00000000-0000-0000-0000-00000000000a', 'nile@example.com');
SELECT pg_temp.reset('nile@example.com');
SELECT pg_temp.alert_of('nile@example.com');

DROP EXTENSION nile_reset;
DROP TABLE public.accounts, auth.sessions, auth.credentials, users.users;
DROP FUNCTION public.end_sessions(integer);
