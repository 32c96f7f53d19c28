-- Statements on the application's table run as the table's owner. When that
-- owner lacks a privilege, the error says so and how to fix it (HINT),
-- instead of a bare "permission denied" to a caller who may well have it.
\set VERBOSITY default
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP SCHEMA IF EXISTS app_private CASCADE;
DROP ROLE IF EXISTS regress_table_owner;
CREATE ROLE regress_table_owner;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
-- The schema is the superuser's, and the table's owner may not use it.
CREATE SCHEMA app_private;
CREATE TABLE app_private.members (id bigint PRIMARY KEY, email text NOT NULL, pw text);
INSERT INTO app_private.members VALUES (1, 'ann@example.com', NULL);
ALTER TABLE app_private.members OWNER TO regress_table_owner;
SELECT auth.use_user_table('app_private.members', 'id', 'email', 'pw', 'bcrypt');
SELECT created FROM auth.generate_password_token('ann@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS tokens FROM nile_reset.verification_tokens;
-- The fix the hint gives.
GRANT USAGE ON SCHEMA app_private TO regress_table_owner;
SELECT created FROM auth.generate_password_token('ann@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');

DROP EXTENSION nile_reset;
DROP SCHEMA app_private CASCADE;
DROP ROLE regress_table_owner;
