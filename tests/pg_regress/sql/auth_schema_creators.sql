-- An existing `auth` schema that other roles can create in (Supabase grants
-- CREATE on it to supabase_auth_admin and dashboard_user) is refused at
-- install: such a role could add an overload of a public function that a
-- caller binding varchar parameters reaches instead of nile_reset's. An
-- explicit setting lets it install anyway; callers then stay safe by
-- passing text-typed arguments, as shown both ways below.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS auth.sessions, auth.credentials, users.users;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP ROLE IF EXISTS regress_auth_admin;
CREATE ROLE regress_auth_admin;
CREATE SCHEMA auth;
GRANT USAGE, CREATE ON SCHEMA auth TO regress_auth_admin;

-- Refused (42501), naming the role; nothing created.
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS nile_reset_schemas FROM pg_namespace WHERE nspname = 'nile_reset';

-- Installed on purpose.
SET nile_reset.allow_auth_schema_creators = on;
CREATE EXTENSION nile_reset;
RESET nile_reset.allow_auth_schema_creators;
SELECT auth.use_nile_users();
SELECT auth.add_trusted_origin('http://localhost:3000');
INSERT INTO users.users (email) VALUES ('jane@example.com');
SET nile_reset.bcrypt_cost = 4;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset

-- The role with CREATE adds a look-alike that keeps what it is given.
SET ROLE regress_auth_admin;
CREATE TABLE auth.captured (new_password text);
CREATE FUNCTION auth.reset_password(identifier varchar, token varchar, new_password varchar) RETURNS text
LANGUAGE sql AS $$ INSERT INTO auth.captured VALUES (new_password) RETURNING 'captured' $$;
RESET ROLE;

-- A caller binding varchar parameters reaches the look-alike ...
PREPARE by_varchar(varchar, varchar, varchar) AS SELECT auth.reset_password($1, $2, $3) AS result;
EXECUTE by_varchar('jane@example.com', :'token', 'a new password');
SELECT count(*) AS captured_passwords FROM auth.captured;
-- ... one binding text reaches nile_reset's.
PREPARE by_text(text, text, text) AS SELECT auth.reset_password($1, $2, $3) IS NOT NULL AS reset_done;
EXECUTE by_text('jane@example.com', :'token', 'another new password');
SELECT count(*) AS captured_passwords FROM auth.captured;

DROP EXTENSION nile_reset;
DROP SCHEMA auth CASCADE;
DROP SCHEMA users CASCADE;
DROP ROLE regress_auth_admin;
