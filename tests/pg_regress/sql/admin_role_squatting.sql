-- nile_reset_admin is cluster-wide and administers origins, templates and
-- the user directory in every database that has nile_reset. A role that can
-- create roles could create it before the first install and keep the right
-- to grant it (PostgreSQL 16+ gives a creator ADMIN OPTION on the role it
-- creates), and so administer nile_reset everywhere. The install adopts an
-- existing nile_reset_admin only if no non-superuser holds ADMIN OPTION on
-- it and it cannot log in. (Roles are cluster-wide and another database
-- may use this one, so the test gives it those rights and takes them back
-- rather than dropping it; tests/upgrade.sh has a squatter create it.)
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP ROLE IF EXISTS regress_squatter;
DROP ROLE IF EXISTS regress_delegate;
CREATE EXTENSION nile_reset;
DROP EXTENSION nile_reset;
CREATE ROLE regress_squatter CREATEROLE;
GRANT nile_reset_admin TO regress_squatter WITH ADMIN OPTION;

-- Refused (42501), naming who can grant it; nothing is installed.
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'nile_reset';
-- So the squatter, who can grant itself nile_reset_admin, has nothing here
-- to administer (before the fix it could trust its own origin).
SET ROLE regress_squatter;
GRANT nile_reset_admin TO regress_squatter;
SELECT pg_catalog.to_regprocedure('auth.add_trusted_origin(text)') IS NULL AS nothing_to_administer;
RESET ROLE;
-- CASCADE: PostgreSQL 16+ also revokes the grant the squatter made with it.
REVOKE nile_reset_admin FROM regress_squatter CASCADE;

-- A nile_reset_admin that can log in is refused too (42501).
ALTER ROLE nile_reset_admin LOGIN;
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
ALTER ROLE nile_reset_admin NOLOGIN;
-- Administrators granted it without the right to pass it on are fine.
CREATE ROLE regress_delegate IN ROLE nile_reset_admin;
CREATE EXTENSION nile_reset;
SELECT extname FROM pg_extension WHERE extname = 'nile_reset';
DROP EXTENSION nile_reset;
-- Handing the right to grant it to a non-superuser makes the next install
-- refuse (42501); revoking it makes it work again.
GRANT nile_reset_admin TO regress_delegate WITH ADMIN OPTION;
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
REVOKE ADMIN OPTION FOR nile_reset_admin FROM regress_delegate;
CREATE EXTENSION nile_reset;
SELECT extname FROM pg_extension WHERE extname = 'nile_reset';

DROP EXTENSION nile_reset;
DROP ROLE regress_squatter;
DROP ROLE regress_delegate;
