-- The settings are real GUCs: defaults, units, validation, SET and
-- ALTER DATABASE ... SET, and only superusers may change them.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
LOAD 'nile_reset';

SELECT name, setting, unit, context, min_val, max_val
  FROM pg_settings WHERE name LIKE 'nile\_reset.%' ORDER BY name;

-- Units and ranges.
SET nile_reset.token_ttl = '30min';
SHOW nile_reset.token_ttl;
SET nile_reset.token_ttl = '10s';
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.token_ttl = '8d';
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.token_ttl = 'soon';
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.min_password_length = 0;
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.min_password_length = 73;
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.bcrypt_cost = 3;
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.max_failed_attempts = 0;
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.min_resend_interval = -1;
\echo :LAST_ERROR_SQLSTATE
RESET ALL;

-- The TTL is what the token gets.
SELECT auth.add_trusted_origin('http://localhost:3000');
INSERT INTO users.users (email) VALUES ('jane@example.com');
SET nile_reset.token_ttl = '15min';
SELECT expires - now() AS ttl FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
RESET nile_reset.token_ttl;

-- A channel that is not a plain identifier is refused when used, and nothing is written.
SET nile_reset.min_resend_interval = 0;
SET nile_reset.notify_channel = 'no spaces; allowed';
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS emails FROM nile_reset.email_outbox;
RESET ALL;

-- Per database.
ALTER DATABASE nile_reset_regress SET nile_reset.token_ttl = '2h';
\c nile_reset_regress
LOAD 'nile_reset';
\set VERBOSITY terse
SHOW nile_reset.token_ttl;
ALTER DATABASE nile_reset_regress RESET nile_reset.token_ttl;

-- Ordinary roles cannot loosen the policy for their session.
DROP ROLE IF EXISTS nile_reset_app_settings;
CREATE ROLE nile_reset_app_settings;
SET ROLE nile_reset_app_settings;
SET nile_reset.min_resend_interval = 0;
\echo :LAST_ERROR_SQLSTATE
SET nile_reset.min_password_length = 1;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE nile_reset_app_settings;
