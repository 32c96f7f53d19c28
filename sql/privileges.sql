-- Nothing of nile_reset is open to PUBLIC: tokens, the outbox (it holds
-- reset links until sent) and every function need an explicit grant. See
-- README "Security". Only the extension's own objects are touched: a
-- pre-existing `auth` schema and everything in it keep their privileges.
DO $privileges$
DECLARE
    member regprocedure;
    relation record;
BEGIN
    FOR member IN
        SELECT d.objid::regprocedure
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         WHERE e.extname = 'nile_reset'
           AND d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass
           AND d.deptype = 'e'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', member);
    END LOOP;
    -- Tables and sequences start closed; saying so explicitly also gives a
    -- fresh install the same privileges as one upgraded from 0.1.0.
    FOR relation IN
        SELECT c.oid::regclass, c.relkind
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
          JOIN pg_catalog.pg_class c ON c.oid = d.objid
         WHERE e.extname = 'nile_reset'
           AND d.classid = 'pg_catalog.pg_class'::regclass
           AND d.deptype = 'e'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM PUBLIC',
            CASE WHEN relation.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, relation.oid);
    END LOOP;

    -- The day-to-day administration role: origins, templates, variables and
    -- the user directory. It can read neither tokens nor the outbox.
    GRANT USAGE ON SCHEMA nile_reset TO nile_reset_admin;
    GRANT SELECT, INSERT, UPDATE, DELETE ON nile_reset.email_templates, nile_reset.template_variables
        TO nile_reset_admin;
    GRANT SELECT ON nile_reset.trusted_origins, nile_reset.user_directory TO nile_reset_admin;
    GRANT EXECUTE ON FUNCTION auth.add_trusted_origin(text), auth.remove_trusted_origin(text),
        auth.use_user_table(regclass, name, name, name, text, name, name, name), auth.use_nile_users(),
        nile_reset.configure_user_table(oid, text, text, text, text, text, text, text),
        nile_reset.configure_nile_users(),
        auth.use_email_lookup(regclass, name, name), nile_reset.configure_email_lookup(oid, text, text),
        auth.use_citus()
        TO nile_reset_admin;
    -- The extension schema is granted only when this install created it;
    -- the privileges of a pre-existing one are its owner's business.
    IF (SELECT n.xmin = pg_catalog.pg_current_xact_id()::pg_catalog.xid
          FROM pg_catalog.pg_namespace n WHERE n.nspname = 'auth') THEN
        GRANT USAGE ON SCHEMA auth TO nile_reset_admin;
    END IF;
END
$privileges$;
