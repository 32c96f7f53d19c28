-- Administrators are this database's: auth.grant_admin names them (a
-- superuser or the database's owner), auth.revoke_admin ends it,
-- auth.admins() lists them. What follows a role: its members, a rename;
-- what does not: a dropped role's rights, a former database owner's power
-- to name administrators. (admins_cross_database: nothing reaches another
-- database.)
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP ROLE IF EXISTS regress_owner, regress_next_owner, regress_editor, regress_editor_member,
    regress_renamed, regress_app, regress_super, regress_dropped;
CREATE ROLE regress_owner;
CREATE ROLE regress_next_owner;
CREATE ROLE regress_editor;
CREATE ROLE regress_editor_member IN ROLE regress_editor;
CREATE ROLE regress_app;
CREATE ROLE regress_super SUPERUSER;
CREATE EXTENSION nile_reset;
SELECT datdba::regrole AS original_owner FROM pg_database WHERE datname = current_database() \gset

-- Nobody administers a fresh install.
SELECT count(*) AS admins FROM auth.admins();
-- Only a superuser or the database's owner names or lists administrators
-- (42501).
SET ROLE regress_editor;
SELECT auth.grant_admin('regress_editor');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM auth.admins();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- The database's owner, no superuser, may.
ALTER DATABASE :"DBNAME" OWNER TO regress_owner;
SET ROLE regress_owner;
SELECT auth.grant_admin('regress_editor') AS added;
SELECT auth.grant_admin('regress_editor') AS added;
SELECT role, granted_by FROM auth.admins();
-- Not PUBLIC, a superuser, a role PostgreSQL predefines (22023), a role
-- that does not exist (42704), nor NULL (22004).
SELECT auth.grant_admin('-');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.grant_admin('regress_super');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.grant_admin('pg_database_owner');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.grant_admin(4294967295::oid::regrole);
\echo :LAST_ERROR_SQLSTATE
SELECT auth.grant_admin(NULL);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A member of an administrator administers: plain SQL on the templates
-- and variables, the origins, the user directory for its own tables.
GRANT CREATE ON SCHEMA public TO regress_editor_member;
SET ROLE regress_editor_member;
UPDATE nile_reset.email_templates SET sender = 'support@example.com' WHERE name = 'password_reset';
INSERT INTO nile_reset.template_variables VALUES ('app_name', 'Example');
SELECT auth.add_trusted_origin('https://admin.example.com');
CREATE TABLE public.editor_users (id bigint PRIMARY KEY, email text NOT NULL, pw text);
SELECT auth.use_user_table('public.editor_users', 'id', 'email', 'pw', 'bcrypt');
-- ... and no more (42501): tokens, the outbox, the record of administrators.
SELECT count(*) FROM nile_reset.verification_tokens;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM nile_reset.email_outbox;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nile_reset.admins (role, granted_by) VALUES ('regress_app', 'regress_editor_member');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A renamed role stays an administrator: the record and the grants follow it.
ALTER ROLE regress_editor RENAME TO regress_renamed;
SELECT role FROM auth.admins();
SET ROLE regress_editor_member;
UPDATE nile_reset.template_variables SET value = 'Renamed' WHERE name = 'app_name';
RESET ROLE;
-- It cannot be dropped while it holds the grants (2BP01).
DROP ROLE regress_renamed;
\echo :LAST_ERROR_SQLSTATE

-- revoke_admin ends it here: the rights go with the record.
SET ROLE regress_owner;
SELECT auth.revoke_admin('regress_renamed') AS removed;
SELECT auth.revoke_admin('regress_renamed') AS removed;
RESET ROLE;
SET ROLE regress_editor_member;
UPDATE nile_reset.email_templates SET sender = 'evil@example.com' WHERE name = 'password_reset';
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin('https://evil.example');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT sender FROM nile_reset.email_templates WHERE name = 'password_reset' AND NOT is_default;

-- A role with USAGE on `auth` of its own (an application's recipe) keeps
-- it after revoke_admin; grant_admin gave it nothing there to take back.
GRANT USAGE ON SCHEMA auth TO regress_app;
-- Given EXECUTE by mistake, it still names no administrator: the function
-- checks its caller itself (42501).
GRANT EXECUTE ON FUNCTION auth.grant_admin(regrole) TO regress_app;
SET ROLE regress_app;
SELECT auth.grant_admin('regress_app');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE EXECUTE ON FUNCTION auth.grant_admin(regrole) FROM regress_app;
SELECT auth.grant_admin('regress_app');
SELECT auth.revoke_admin('regress_app');
SELECT has_schema_privilege('regress_app', 'auth', 'USAGE') AS app_uses_auth,
       has_schema_privilege('regress_app', 'nile_reset', 'USAGE') AS app_uses_state_schema;

-- DROP OWNED takes a role's rights in this database; the role can then be
-- dropped, and its record stays, by number, until revoke_admin removes it.
CREATE ROLE regress_dropped;
SELECT auth.grant_admin('regress_dropped');
DROP OWNED BY regress_dropped;
DROP ROLE regress_dropped;
SELECT role::text ~ '^[0-9]+$' AS by_number FROM auth.admins();
SELECT auth.revoke_admin(role) AS removed FROM auth.admins();
SELECT count(*) AS admins FROM auth.admins();

-- A new owner of the database names administrators; the former one no
-- longer does (42501).
ALTER DATABASE :"DBNAME" OWNER TO regress_next_owner;
SET ROLE regress_owner;
SELECT auth.grant_admin('regress_app');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_next_owner;
SELECT auth.grant_admin('regress_app') AS added;
SELECT auth.revoke_admin('regress_app') AS removed;
RESET ROLE;

ALTER DATABASE :"DBNAME" OWNER TO :"original_owner";
DROP EXTENSION nile_reset;
DROP TABLE public.editor_users;
REVOKE CREATE ON SCHEMA public FROM regress_editor_member;
DROP SCHEMA auth CASCADE;
DROP ROLE regress_owner, regress_next_owner, regress_editor_member, regress_renamed, regress_app, regress_super;
