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

    -- The day-to-day administration role: origins, templates, variables and
    -- the user directory. It can read neither tokens nor the outbox.
    GRANT USAGE ON SCHEMA nile_reset TO nile_reset_admin;
    GRANT SELECT, INSERT, UPDATE, DELETE ON nile_reset.email_templates, nile_reset.template_variables
        TO nile_reset_admin;
    GRANT SELECT ON nile_reset.trusted_origins, nile_reset.user_directory TO nile_reset_admin;
    GRANT EXECUTE ON FUNCTION auth.add_trusted_origin(text), auth.remove_trusted_origin(text),
        auth.use_user_table(regclass, name, name, name, text, name, name, name, text, regprocedure),
        auth.use_nile_users(),
        nile_reset.configure_user_table(oid, text, text, text, text, text, text, text, text, oid),
        nile_reset.configure_nile_users(),
        auth.use_email_lookup(regclass, name, name), nile_reset.configure_email_lookup(oid, text, text),
        auth.use_citus()
        TO nile_reset_admin;
    -- The extension schema is granted only when this install created it;
    -- the privileges of a pre-existing one are its owner's business.
    IF auth_is_ours THEN
        GRANT USAGE ON SCHEMA auth TO nile_reset_admin;
    END IF;
END
$privileges$;
