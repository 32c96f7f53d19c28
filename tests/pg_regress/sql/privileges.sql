-- Security model: functions run as the extension owner with a pinned
-- search_path; PUBLIC can read no token, no outbox row and call nothing
-- until granted.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');

SELECT p.proname, p.prosecdef AS security_definer, p.proconfig AS settings,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p WHERE p.pronamespace = 'auth'::regnamespace ORDER BY p.proname;

DROP ROLE IF EXISTS nile_reset_app;
DROP ROLE IF EXISTS nile_reset_nobody;
CREATE ROLE nile_reset_app;
CREATE ROLE nile_reset_nobody;

-- Someone with no grant can do nothing.
SET ROLE nile_reset_nobody;
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM nile_reset.verification_tokens;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM nile_reset.email_outbox;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- The app role's recipe (docs/security.md): schema usage and EXECUTE on the request functions.
GRANT USAGE ON SCHEMA auth TO nile_reset_app;
GRANT EXECUTE ON FUNCTION auth.generate_password_token(text, text, text),
                          auth.normalize_identifier(text),
                          auth.verify_password_token(text, text),
                          auth.reset_password(text, text, text),
                          auth.check_new_password(text) TO nile_reset_app;
SET ROLE nile_reset_app;
SELECT auth.normalize_identifier(' Jane@Example.com ');
SELECT nile_reset.normalize_identifier('Jane@Example.com');
\echo :LAST_ERROR_SQLSTATE
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
-- ... but still cannot read what the function wrote, nor use the trusted link mode.
SELECT token FROM nile_reset.verification_tokens;
\echo :LAST_ERROR_SQLSTATE
SELECT body FROM nile_reset.email_outbox;
\echo :LAST_ERROR_SQLSTATE
SELECT auth.generate_password_link('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin('https://evil.example');
\echo :LAST_ERROR_SQLSTATE
-- A search_path trap does not reach inside the functions: they pin theirs.
CREATE TEMP TABLE email_outbox (id int);
CREATE FUNCTION pg_temp.lower(text) RETURNS text LANGUAGE sql AS 'SELECT ''hijacked''';
RESET ROLE;
SET nile_reset.min_resend_interval = 0;
SET ROLE nile_reset_app;
SET search_path = pg_temp, public;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
RESET search_path;
RESET ROLE;
SELECT count(*) AS emails, count(DISTINCT recipient) AS recipients FROM nile_reset.email_outbox;

DROP EXTENSION nile_reset CASCADE;
DROP OWNED BY nile_reset_app, nile_reset_nobody;
DROP ROLE nile_reset_app;
DROP ROLE nile_reset_nobody;
