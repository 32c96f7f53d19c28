-- Nothing of nile_reset is open to anyone but its owner until granted
-- below: tokens, the outbox (it holds reset links until sent) and every
-- function need an explicit grant. See docs/security.md. Default privileges
-- (ALTER DEFAULT PRIVILEGES ... GRANT SELECT ON TABLES TO a BI role, or
-- EXECUTE ON FUNCTIONS TO the app) apply to what this script creates, so
-- every grant to anyone but the owner is removed first, whatever its origin.
-- Only the extension's own objects are touched: a pre-existing `auth`
-- schema and everything in it keep their privileges.
DO $privileges$
DECLARE
    member record;
    grantee text;
    auth_is_ours boolean;
BEGIN
    -- `auth` is this install's when this transaction wrote it and nothing in
    -- it predates the extension: xmin alone would also match a pre-existing
    -- schema that a superuser altered earlier in the same transaction.
    SELECT n.xmin = pg_catalog.pg_current_xact_id()::pg_catalog.xid
           AND NOT EXISTS (
               SELECT 1 FROM (
                   SELECT 'pg_catalog.pg_class'::regclass AS classid, c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid
                   UNION ALL SELECT 'pg_catalog.pg_proc'::regclass, p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid
                   UNION ALL SELECT 'pg_catalog.pg_type'::regclass, t.oid FROM pg_catalog.pg_type t
                              WHERE t.typnamespace = n.oid AND t.typrelid = 0 AND t.typelem = 0
               ) o
               WHERE NOT EXISTS (
                   SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = o.classid AND d.objid = o.oid AND d.deptype = 'e'
                      AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')))
      INTO auth_is_ours
      FROM pg_catalog.pg_namespace n WHERE n.nspname = 'auth';
    -- The finding, kept: administrators get USAGE on `auth` only when this
    -- install created it (src/admin.rs). A restore finds `auth` already
    -- there (pg_dump writes it), like any pre-existing one.
    EXECUTE pg_catalog.format('CREATE FUNCTION nile_reset.auth_schema_created() RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
        CASE WHEN auth_is_ours THEN 'SELECT true' ELSE 'SELECT false' END);
    FOR member IN
        SELECT pg_catalog.format('FUNCTION %s', p.oid::regprocedure) AS object, p.proacl AS acl, p.proowner AS owner
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
        UNION ALL
        SELECT pg_catalog.format('%s %s', CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass),
               c.relacl, c.relowner
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_class'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
        UNION ALL
        SELECT pg_catalog.format('TYPE %s', t.oid::regtype), t.typacl, t.typowner
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_type t ON t.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_type'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
        UNION ALL
        -- nile_reset's schema, and `auth` when this install created it.
        SELECT pg_catalog.format('SCHEMA %I', n.nspname), n.nspacl, n.nspowner
          FROM pg_catalog.pg_namespace n
         WHERE n.nspname = 'nile_reset'
            OR (n.nspname = 'auth' AND auth_is_ours)
    LOOP
        -- A NULL ACL is the built-in default: for functions that includes
        -- EXECUTE for PUBLIC, which must go too. Types keep PUBLIC's USAGE
        -- (a column or argument of the type needs nothing more).
        IF member.object LIKE 'FUNCTION %' THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', member.object);
        END IF;
        FOR grantee IN
            SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END
              FROM pg_catalog.aclexplode(member.acl) a
              LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
             WHERE a.grantee <> member.owner
               AND NOT (a.grantee = 0 AND member.object LIKE 'TYPE %')
        LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s CASCADE', member.object, grantee);
        END LOOP;
    END LOOP;

    -- Nobody administers a fresh install: the database's owner (or a
    -- superuser) names its administrators with auth.grant_admin
    -- (src/admin.rs, docs/security.md). pg_database_owner is whoever owns
    -- the current database; the functions check their caller themselves
    -- too, and act as the extension owner only after that.
    GRANT EXECUTE ON FUNCTION auth.grant_admin(regrole), auth.revoke_admin(regrole), auth.admins()
        TO pg_database_owner;
    -- The extension schema is granted only when this install created it;
    -- the privileges of a pre-existing one are its owner's business.
    IF auth_is_ours THEN
        GRANT USAGE ON SCHEMA auth TO pg_database_owner;
    END IF;
    -- Grants on `auth` are the database's, not the extension's initial
    -- privileges (it is no member: a restore makes it as a schema of its
    -- own), so that pg_dump dumps them.
    PERFORM nile_reset.reset_initial_privileges();
END
$privileges$;
