-- on_password_reset: the application's own step of a reset, called with
-- the user's id after the new hash is written, as the users table's owner.
-- Here Laravel's: the user's rows of `sessions` are deleted, their
-- remember_token cleared and updated_at bumped; nobody else's. A failing
-- function rolls the whole reset back (the token still works afterwards)
-- and reaches the caller as 38000 naming it, its own message in the server
-- log only. Functions of the wrong shape, or that the owner may not
-- execute, are refused when configured.
\set VERBOSITY terse
\i tests/pg_regress/common/sqlstate_of.sql
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.users, public.sessions, public.hook_calls;
DROP FUNCTION IF EXISTS public.laravel_password_reset(bigint), public.broken_password_reset(bigint),
    public.integer_hook(integer), public.boolean_hook(bigint), public.two_argument_hook(bigint, integer),
    public.private_hook(bigint);
DROP PROCEDURE IF EXISTS public.procedure_hook(bigint);
DROP FUNCTION IF EXISTS public.foreign_hook(bigint);
DROP ROLE IF EXISTS regress_laravel, regress_stranger;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
SET nile_reset.bcrypt_cost = 4;
SET nile_reset.min_resend_interval = 0;
CREATE ROLE regress_laravel;
CREATE ROLE regress_stranger;

-- Laravel's users and (database driver) sessions tables, owned by the app.
CREATE TABLE public.users (
    id             bigint PRIMARY KEY,
    email          varchar(255) NOT NULL,
    password       varchar(255) NOT NULL,
    remember_token varchar(100),
    updated_at     timestamp(0)
);
CREATE TABLE public.sessions (
    id            varchar(255) PRIMARY KEY,
    user_id       bigint,
    payload       text NOT NULL,
    last_activity integer NOT NULL
);
CREATE TABLE public.hook_calls (user_id bigint, called_as name);
ALTER TABLE public.users OWNER TO regress_laravel;
ALTER TABLE public.sessions OWNER TO regress_laravel;
ALTER TABLE public.hook_calls OWNER TO regress_laravel;
INSERT INTO public.users VALUES
  (1, 'taylor@example.com', '$2y$04$abcdefghijklmnopqrstuu5Ot0z4B0Ddc8BrnW/Ht6kNC6tJ8l7Oq', 'remember-taylor', '2020-01-01'),
  (2, 'jess@example.com', '$2y$04$abcdefghijklmnopqrstuu5Ot0z4B0Ddc8BrnW/Ht6kNC6tJ8l7Oq', 'remember-jess', '2020-01-01');
INSERT INTO public.sessions VALUES
  ('s1', 1, '', 0), ('s2', 1, '', 0), ('s3', 2, '', 0), ('s4', NULL, '', 0);

-- Names are qualified: the function runs with search_path pg_catalog, pg_temp.
CREATE FUNCTION public.laravel_password_reset(bigint) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM public.sessions WHERE user_id = $1;
    UPDATE public.users SET remember_token = NULL, updated_at = now() WHERE id = $1;
    INSERT INTO public.hook_calls VALUES ($1, current_user);
$$;
SELECT auth.use_user_table('public.users', 'id', 'email', 'password', 'bcrypt',
    on_password_reset => 'public.laravel_password_reset(bigint)');
SELECT on_password_reset FROM nile_reset.user_directory;

SELECT created FROM auth.generate_password_token('taylor@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token
  FROM nile_reset.email_outbox WHERE recipient = 'taylor@example.com' \gset
SELECT auth.reset_password('taylor@example.com', :'token', 'a new password') AS user_id;
SELECT id FROM public.sessions ORDER BY id;
SELECT id, remember_token, updated_at > '2020-01-01' AS updated_at_bumped,
       password LIKE '$2y$04$%' AND password <> '$2y$04$abcdefghijklmnopqrstuu5Ot0z4B0Ddc8BrnW/Ht6kNC6tJ8l7Oq' AS password_changed
  FROM public.users ORDER BY id;
SELECT * FROM public.hook_calls;

-- A failing function: everything of the reset is rolled back, including
-- what the function did before failing, and the token still works. The
-- caller sees 38000; the function's message is logged (shown here by
-- client_min_messages = log), its detail not.
CREATE FUNCTION public.broken_password_reset(bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM public.sessions WHERE user_id = $1;
    RAISE EXCEPTION 'sessions store unavailable' USING DETAIL = 'row (2, jess@example.com)';
END
$$;
SELECT auth.use_user_table('public.users', 'id', 'email', 'password', 'bcrypt',
    on_password_reset => 'public.broken_password_reset(bigint)');
SELECT created FROM auth.generate_password_token('jess@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token
  FROM nile_reset.email_outbox WHERE recipient = 'jess@example.com' \gset
SELECT count(*) AS emails_before FROM nile_reset.email_outbox \gset
SET client_min_messages = log;
SELECT auth.reset_password('jess@example.com', :'token', 'a new password');
\echo :LAST_ERROR_SQLSTATE
RESET client_min_messages;
SELECT id FROM public.sessions ORDER BY id;
SELECT password = '$2y$04$abcdefghijklmnopqrstuu5Ot0z4B0Ddc8BrnW/Ht6kNC6tJ8l7Oq' AS password_unchanged,
       remember_token FROM public.users WHERE id = 2;
SELECT count(*) = :emails_before AS no_alert_queued FROM nile_reset.email_outbox;
SELECT status FROM auth.verify_password_token('jess@example.com', :'token');
-- In the caller's own transaction, with a savepoint: the same, and the
-- transaction goes on.
BEGIN;
SAVEPOINT before_reset;
SELECT auth.reset_password('jess@example.com', :'token', 'a new password');
ROLLBACK TO SAVEPOINT before_reset;
SELECT status FROM auth.verify_password_token('jess@example.com', :'token');
COMMIT;
-- Once the function works again, the same token resets the password.
SELECT auth.use_user_table('public.users', 'id', 'email', 'password', 'bcrypt',
    on_password_reset => 'public.laravel_password_reset(bigint)');
SELECT auth.reset_password('jess@example.com', :'token', 'a new password') AS user_id;
SELECT id FROM public.sessions ORDER BY id;
SELECT id, remember_token FROM public.users ORDER BY id;

-- Refused when configured: the wrong argument type, return type or number
-- of arguments (42804), a procedure or a temporary function (42809), no
-- such function (42883), one the table's owner may not execute, one whose
-- owner lacks the table owner's rights and could change what a reset runs
-- as the table's owner (42501). The configuration stays.
CREATE FUNCTION public.integer_hook(integer) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION public.boolean_hook(bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION public.two_argument_hook(bigint, integer DEFAULT 0) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE PROCEDURE public.procedure_hook(bigint) LANGUAGE sql AS 'SELECT';
CREATE FUNCTION public.private_hook(bigint) RETURNS void LANGUAGE sql AS 'SELECT';
REVOKE EXECUTE ON FUNCTION public.private_hook(bigint) FROM PUBLIC;
CREATE FUNCTION pg_temp.temporary_hook(bigint) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION public.foreign_hook(bigint) RETURNS void LANGUAGE sql AS 'SELECT';
ALTER FUNCTION public.foreign_hook(bigint) OWNER TO regress_stranger;
-- (The temporary schema's number varies: shown as pg_temp_N.)
SELECT hook, regexp_replace(pg_temp.sqlstate_of(pg_catalog.format(
           'SELECT auth.use_user_table(%L, %L, %L, %L, %L, on_password_reset => %L)',
           'public.users', 'id', 'email', 'password', 'bcrypt', hook)), 'pg_temp_[0-9]+', 'pg_temp_N') AS outcome
  FROM (VALUES ('public.integer_hook(integer)'), ('public.boolean_hook(bigint)'),
               ('public.two_argument_hook(bigint, integer)'), ('public.procedure_hook(bigint)'),
               ('pg_temp.temporary_hook(bigint)'), ('public.no_such_hook(bigint)'),
               ('public.private_hook(bigint)'), ('public.foreign_hook(bigint)')) AS t(hook);
SELECT on_password_reset FROM nile_reset.user_directory;

-- A configured function that was dropped since: nothing works until the
-- directory is configured again (55000), rather than resets that skip it.
DROP FUNCTION public.laravel_password_reset(bigint);
SELECT created FROM auth.generate_password_token('taylor@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE

DROP EXTENSION nile_reset;
DROP TABLE public.users, public.sessions, public.hook_calls;
DROP FUNCTION public.broken_password_reset(bigint),
    public.integer_hook(integer), public.boolean_hook(bigint), public.two_argument_hook(bigint, integer),
    public.private_hook(bigint), public.foreign_hook(bigint);
DROP PROCEDURE public.procedure_hook(bigint);
DROP ROLE regress_laravel, regress_stranger;
