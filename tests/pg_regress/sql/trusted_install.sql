-- nile_reset is trusted: a database's owner installs it without superuser
-- and administers that database, and nothing else. The script runs as the
-- bootstrap superuser, so everything it creates is a superuser's; the
-- installer owns only the extension's record. The install guard holds as
-- for a superuser's install, and the owner gains nothing it could turn
-- against other databases or a superuser.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP TABLE IF EXISTS public.owner_users;
DROP ROLE IF EXISTS regress_db_owner, regress_db_app;
CREATE ROLE regress_db_owner;
CREATE ROLE regress_db_app;
SELECT datdba::regrole AS original_owner FROM pg_database WHERE datname = current_database() \gset
ALTER DATABASE :"DBNAME" OWNER TO regress_db_owner;
SELECT count(*) AS roles_before FROM pg_roles \gset

SET ROLE regress_db_owner;
-- An `auth` of its own, made before the install, is refused (42501): its
-- owner could replace what the SECURITY DEFINER functions rely on.
CREATE SCHEMA auth;
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
DROP SCHEMA auth;
-- Default privileges of its own would hand the `auth` that CREATE
-- EXTENSION makes (as the installer) to another role; the install takes
-- them back.
ALTER DEFAULT PRIVILEGES GRANT USAGE, CREATE ON SCHEMAS TO regress_db_app;
CREATE EXTENSION nile_reset;
ALTER DEFAULT PRIVILEGES REVOKE USAGE, CREATE ON SCHEMAS FROM regress_db_app;
RESET ROLE;
SELECT has_schema_privilege('regress_db_app', 'auth', 'CREATE') AS app_creates_in_auth,
       has_schema_privilege('regress_db_app', 'auth', 'USAGE') AS app_uses_auth;

-- The extension is the owner's; every object, `auth` included (CREATE
-- EXTENSION made it as the owner), is the superuser's.
SELECT extowner::regrole AS extension_owner FROM pg_extension WHERE extname = 'nile_reset';
SELECT nspname, r.rolsuper AS superuser_owned
  FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
 WHERE nspname IN ('auth', 'nile_reset') ORDER BY 1;
SELECT count(*) AS members_not_superuser_owned
  FROM pg_depend d
  LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
  LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
  JOIN pg_roles r ON r.oid = COALESCE(p.proowner, c.relowner, t.typowner)
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nile_reset')
   AND d.deptype = 'e' AND NOT r.rolsuper;
-- It created no role (roles are the cluster's).
SELECT count(*) - :roles_before AS roles_created FROM pg_roles;

SET ROLE regress_db_owner;
-- It cannot take a member of the extension for itself (42501) ...
ALTER EXTENSION nile_reset DROP FUNCTION auth.generate_password_link(text, text, text);
\echo :LAST_ERROR_SQLSTATE
-- ... and names itself an administrator of this database, which it then
-- administers, reading neither tokens nor the outbox (42501).
SELECT auth.grant_admin('regress_db_owner');
SELECT count(*) FROM nile_reset.email_outbox;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM nile_reset.verification_tokens;
\echo :LAST_ERROR_SQLSTATE
UPDATE nile_reset.email_templates SET sender = 'support@owner.example' WHERE name = 'password_reset';
SELECT auth.add_trusted_origin('https://owner.example');
CREATE TABLE public.owner_users (id bigint PRIMARY KEY, email text NOT NULL, pw text);
SELECT auth.use_user_table('public.owner_users', 'id', 'email', 'pw', 'bcrypt');
SELECT user_table FROM nile_reset.user_directory;
-- The application's and the sender's grants are the functions' owner's to
-- make, a superuser's (42501).
GRANT EXECUTE ON FUNCTION auth.generate_password_token(text, text, text) TO regress_db_app;
\echo :LAST_ERROR_SQLSTATE
SELECT auth.revoke_admin('regress_db_owner');
-- The extension's owner may drop it.
DROP EXTENSION nile_reset;
DROP TABLE public.owner_users;
RESET ROLE;

ALTER DATABASE :"DBNAME" OWNER TO :"original_owner";
DROP SCHEMA auth CASCADE;
DROP ROLE regress_db_owner, regress_db_app;
