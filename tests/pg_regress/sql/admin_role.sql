-- An administrator (auth.grant_admin): day-to-day administration without
-- superuser (origins, templates, variables, the user directory for its own
-- tables), and no access to tokens, the outbox or the settings.
\set VERBOSITY terse
-- An `auth` this install creates, so that administrators get USAGE on it.
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
\i tests/pg_regress/common/nile_users.sql
DROP ROLE IF EXISTS regress_admin;
CREATE ROLE regress_admin;
SELECT auth.grant_admin('regress_admin');
GRANT CREATE ON SCHEMA public TO regress_admin;
INSERT INTO users.users (email) VALUES ('jane@example.com');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');

SET ROLE regress_admin;
SELECT auth.add_trusted_origin('https://admin.example.com');
SELECT auth.remove_trusted_origin('https://admin.example.com');
UPDATE nile_reset.email_templates SET sender = 'support@example.com' WHERE name = 'password_reset';
INSERT INTO nile_reset.template_variables VALUES ('app_name', 'Example');
SELECT name, sender, is_default FROM nile_reset.email_templates ORDER BY name, is_default;
-- Its own users table can become the directory.
CREATE TABLE public.admin_users (id uuid PRIMARY KEY, email text NOT NULL, pw text);
SELECT auth.use_user_table('public.admin_users', 'id', 'email', 'pw', 'argon2id');
SELECT shape, user_table FROM nile_reset.user_directory;
-- No tokens, no outbox, no settings, no direct write of the configuration.
SELECT count(*) FROM nile_reset.verification_tokens;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM nile_reset.email_outbox;
\echo :LAST_ERROR_SQLSTATE
UPDATE nile_reset.user_directory SET email_column = 'pw';
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nile_reset.trusted_origins (origin) VALUES ('https://evil.example');
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.token_ttl = '7d';
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- revoke_admin takes all of it back (USAGE on `auth`, which the install
-- created and grant_admin gave, included).
SELECT auth.revoke_admin('regress_admin');
SELECT has_schema_privilege('regress_admin', 'nile_reset', 'USAGE') AS uses_state_schema,
       has_schema_privilege('regress_admin', 'auth', 'USAGE') AS uses_auth;
SET ROLE regress_admin;
UPDATE nile_reset.email_templates SET sender = 'evil@example.com' WHERE name = 'password_reset';
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin('https://evil.example');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DROP EXTENSION nile_reset;
DROP TABLE public.admin_users;
REVOKE CREATE ON SCHEMA public FROM regress_admin;
DROP ROLE regress_admin;
