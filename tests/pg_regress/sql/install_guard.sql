-- Layouts the install refuses, and the hijack they would allow: a
-- non-superuser database owner must never get code run as superuser.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP TABLE IF EXISTS public.members, public.trigger_log;
DROP ROLE IF EXISTS regress_db_owner;
CREATE ROLE regress_db_owner;
GRANT CREATE ON DATABASE :"DBNAME" TO regress_db_owner;
GRANT CREATE ON SCHEMA public TO regress_db_owner;

-- An `auth` schema owned by a non-superuser: refused (42501), nothing created.
SET ROLE regress_db_owner;
CREATE SCHEMA auth;
RESET ROLE;
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS nile_reset_schemas FROM pg_namespace WHERE nspname = 'nile_reset';
DROP SCHEMA auth;

-- A foreign `nile_reset` schema: refused (42P06).
CREATE SCHEMA nile_reset;
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
DROP SCHEMA nile_reset;

-- Installed: the owner of the application's table puts a trigger on it
-- that tries to act as whoever runs it. It runs as that owner, never as
-- the superuser that owns nile_reset's SECURITY DEFINER functions.
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
SET ROLE regress_db_owner;
CREATE TABLE public.members (id bigint PRIMARY KEY, email text NOT NULL, pw text);
CREATE TABLE public.trigger_log (who name, superuser text);
CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.trigger_log VALUES (current_user, (SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user));
    BEGIN
        ALTER ROLE regress_db_owner SUPERUSER;
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO public.trigger_log VALUES ('escalation failed', SQLSTATE);
    END;
    RETURN NEW;
END
$$;
CREATE TRIGGER spy BEFORE UPDATE ON public.members FOR EACH ROW EXECUTE FUNCTION public.spy();
INSERT INTO public.members VALUES (1, 'eve@example.com', NULL);
-- Not a superuser nor an administrator: cannot configure the directory.
SELECT auth.use_user_table('public.members', 'id', 'email', 'pw', 'bcrypt');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- An administrator may point it only at tables they own: not this one.
DROP ROLE IF EXISTS regress_admin_member;
CREATE ROLE regress_admin_member;
SELECT auth.grant_admin('regress_admin_member');
SET ROLE regress_admin_member;
SELECT auth.use_user_table('public.members', 'id', 'email', 'pw', 'bcrypt');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT auth.use_user_table('public.members', 'id', 'email', 'pw', 'bcrypt');
SET nile_reset.bcrypt_cost = 4;
SELECT created FROM auth.generate_password_token('eve@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SELECT auth.reset_password('eve@example.com', :'token', 'correct horse battery') AS user_id;
SELECT * FROM public.trigger_log;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_db_owner';

SELECT auth.revoke_admin('regress_admin_member');
DROP EXTENSION nile_reset;
DROP TABLE public.members, public.trigger_log;
DROP FUNCTION public.spy();
REVOKE CREATE ON DATABASE :"DBNAME" FROM regress_db_owner;
REVOKE CREATE ON SCHEMA public FROM regress_db_owner;
DROP ROLE regress_db_owner;
DROP ROLE regress_admin_member;
