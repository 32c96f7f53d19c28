-- Default privileges never reach nile_reset's objects: a BI role given
-- SELECT on every new table, or an app role given EXECUTE on every new
-- function, gets neither live reset links nor the trusted link mode. The
-- install removes every grant to anyone but the owner, then grants only
-- what docs/security.md documents. A pre-existing `auth` keeps its own.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS auth.sessions, auth.credentials, users.users;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP ROLE IF EXISTS regress_bi;
DROP ROLE IF EXISTS regress_webapp;
CREATE ROLE regress_bi;
CREATE ROLE regress_webapp;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO regress_bi;
ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT ON SEQUENCES TO regress_bi;
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO regress_webapp;
ALTER DEFAULT PRIVILEGES GRANT USAGE, CREATE ON SCHEMAS TO regress_webapp;
ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO regress_bi;

CREATE EXTENSION nile_reset;

-- Who holds what on the extension's objects, besides their owner: the
-- database's owner (pg_database_owner) the right to name administrators and
-- USAGE on the `auth` the install created, and nobody else (PUBLIC keeps
-- only USAGE on its domain).
CREATE FUNCTION pg_temp.grants() RETURNS TABLE (object text, grantee text, privilege text)
LANGUAGE sql AS $$
    WITH members AS (
        SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
               COALESCE(p.proacl, c.relacl, t.typacl) AS acl,
               COALESCE(p.proowner, c.relowner, t.typowner) AS owner
          FROM pg_depend d
          LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
          LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
          LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
         WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nile_reset')
           AND d.deptype = 'e'
        UNION ALL
        SELECT 'schema ' || nspname, nspacl, nspowner FROM pg_namespace WHERE nspname IN ('auth', 'nile_reset')
    )
    SELECT m.object, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, a.privilege_type
      FROM members m, aclexplode(m.acl) a
     WHERE a.grantee <> m.owner
     ORDER BY 1, 2, 3
$$;
SELECT * FROM pg_temp.grants();
SELECT has_table_privilege('regress_bi', 'nile_reset.email_outbox', 'SELECT') AS bi_reads_outbox,
       has_table_privilege('regress_bi', 'nile_reset.verification_tokens', 'SELECT') AS bi_reads_tokens,
       has_schema_privilege('regress_webapp', 'nile_reset', 'USAGE') AS app_uses_state_schema,
       has_schema_privilege('regress_webapp', 'auth', 'CREATE') AS app_creates_in_auth,
       has_function_privilege('regress_webapp', 'auth.generate_password_link(text, text, text)', 'EXECUTE') AS app_mints_links,
       has_function_privilege('regress_webapp', 'auth.claim_emails(text, integer, interval)', 'EXECUTE') AS app_claims_emails;
-- The documented grants are still made.
SELECT has_function_privilege('pg_database_owner', 'auth.grant_admin(regrole)', 'EXECUTE') AS owner_names_admins,
       has_schema_privilege('pg_database_owner', 'auth', 'USAGE') AS owner_uses_auth;

-- A pre-existing `auth` and its objects keep the privileges their owner gave.
DROP EXTENSION nile_reset;
DROP SCHEMA auth;
CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO regress_bi;
CREATE FUNCTION auth.app_function() RETURNS int LANGUAGE sql AS 'SELECT 1';
GRANT EXECUTE ON FUNCTION auth.app_function() TO regress_bi;
-- The schema default privileges gave regress_webapp CREATE on it: refused
-- (auth_schema_creators), until that is revoked.
CREATE EXTENSION nile_reset;
\echo :LAST_ERROR_SQLSTATE
REVOKE CREATE ON SCHEMA auth FROM regress_webapp;
CREATE EXTENSION nile_reset;
SELECT * FROM pg_temp.grants();
SELECT has_schema_privilege('regress_bi', 'auth', 'USAGE') AS bi_keeps_auth_usage,
       has_function_privilege('regress_bi', 'auth.app_function()', 'EXECUTE') AS bi_keeps_app_function,
       has_schema_privilege('pg_database_owner', 'auth', 'USAGE') AS owner_granted_foreign_auth;

DROP EXTENSION nile_reset;
DROP SCHEMA auth CASCADE;
ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM regress_bi;
ALTER DEFAULT PRIVILEGES REVOKE USAGE, SELECT ON SEQUENCES FROM regress_bi;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM regress_webapp;
ALTER DEFAULT PRIVILEGES REVOKE USAGE, CREATE ON SCHEMAS FROM regress_webapp;
ALTER DEFAULT PRIVILEGES REVOKE USAGE ON TYPES FROM regress_bi;
DROP OWNED BY regress_bi, regress_webapp;
DROP ROLE regress_bi;
DROP ROLE regress_webapp;
