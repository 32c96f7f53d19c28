-- nile_reset 0.2.0 -> 0.3.0
--
-- What changed, and why (see CHANGELOG.md):
-- * No lockout: wrong tokens no longer count nor block the identifier, and
--   a wrong-token check writes nothing (so it costs the same whether the
--   identifier has a token or not). The throttle's columns
--   verification_tokens.failed_attempts and last_failure go.
-- * Exactly the grants nile_reset means: grants that default privileges
--   (ALTER DEFAULT PRIVILEGES) gave on nile_reset's tables, sequences, types
--   and schema are revoked, each with a warning; objects this update creates
--   get the install's treatment. Existing functions keep their grants.
-- * The new hash keeps the user's scheme and strength; new password format
--   django_argon2; auth.check_new_password applies the directory format's
--   length limit (72 bytes for bcrypt, 4096 otherwise).
-- * The application's own rules of who may reset and what a reset ends:
--   auth.use_user_table takes user_filter and on_password_reset (new
--   columns of nile_reset.user_directory, NULL for a directory configured
--   before); the function is replaced, its grants carried over. The shipped
--   password_alert says sessions were signed out only when they were
--   (${sessions_note}); an edited password_alert is the administrator's
--   and stays as it is.
-- * The unused domain nile_reset.token_status is dropped.
-- Each change to the surface adds its statements below and its line here,
-- so that a database updated from 0.2.0 ends as a fresh install of 0.3.0.

\echo Use "ALTER EXTENSION nile_reset UPDATE TO '0.3.0'" to load this file. \quit

-- The extension's objects before this update, remembered for the end of
-- the script (transaction-local): objects created below get the install's
-- privilege treatment, existing ones keep the grants their admins made.
SELECT pg_catalog.set_config('nile_reset_update.members_before', pg_catalog.array_agg(d.classid || '/' || d.objid)::text, true)
  FROM pg_catalog.pg_depend d
 WHERE d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
   AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e';

-- No lockout (src/reset.rs): nothing counts wrong tokens any more.
ALTER TABLE nile_reset.verification_tokens DROP COLUMN failed_attempts, DROP COLUMN last_failure;

-- The new hash keeps the user's scheme and strength (src/password.rs); new
-- format django_argon2 (Django's Argon2PasswordHasher).
ALTER TABLE nile_reset.user_directory DROP CONSTRAINT user_directory_password_format_check;
ALTER TABLE nile_reset.user_directory ADD CONSTRAINT user_directory_password_format_check
    CHECK (password_format IN ('bcrypt', 'django_pbkdf2_sha256', 'argon2id', 'django_argon2', 'nile'));
-- auth.check_new_password applies the directory's format's length limit,
-- so it reads the directory as the extension owner.
ALTER FUNCTION auth.check_new_password(text) SECURITY DEFINER;

-- Who may reset and what a reset ends, by the application's own rules
-- (src/directory/filter.rs, hook.rs). A directory configured under 0.2.0
-- has neither, and works as before.
ALTER TABLE nile_reset.user_directory
    ADD COLUMN user_filter text,
    ADD COLUMN on_password_reset text;
-- auth.use_user_table and its Rust half take the two new arguments: both
-- are recreated. They keep the grants they had (nile_reset_admin's, and any
-- an administrator made), and only those, so they are counted among the
-- functions that existed before this update, which the privilege pass
-- leaves alone.
DO $use_user_table$
DECLARE
    fns text[];
    acls text[];
    owners oid[];
    i integer;
    grantee_ text;
    grant_row record;
BEGIN
    -- Each function's grants before it is dropped, with its successor.
    SELECT pg_catalog.array_agg(v.fn), pg_catalog.array_agg(p.proacl::text), pg_catalog.array_agg(p.proowner)
      INTO fns, acls, owners
      FROM (VALUES
            ('auth.use_user_table(regclass, name, name, name, text, name, name, name)',
             'auth.use_user_table(regclass, name, name, name, text, name, name, name, text, regprocedure)'),
            ('nile_reset.configure_user_table(oid, text, text, text, text, text, text, text)',
             'nile_reset.configure_user_table(oid, text, text, text, text, text, text, text, text, oid)')
           ) AS v(old_signature, fn)
      JOIN pg_catalog.pg_proc p ON p.oid = v.old_signature::regprocedure;
    DROP FUNCTION auth.use_user_table(regclass, name, name, name, text, name, name, name);
    DROP FUNCTION nile_reset.configure_user_table(oid, text, text, text, text, text, text, text);
    CREATE FUNCTION nile_reset."configure_user_table"(
    	"user_table" oid, /* Option < pg_sys :: Oid > */
    	"id_column" TEXT, /* Option < & str > */
    	"email_column" TEXT, /* Option < & str > */
    	"password_column" TEXT, /* Option < & str > */
    	"password_format" TEXT, /* Option < & str > */
    	"name_column" TEXT, /* Option < & str > */
    	"disabled_column" TEXT, /* Option < & str > */
    	"locale_column" TEXT, /* Option < & str > */
    	"user_filter" TEXT, /* Option < & str > */
    	"on_password_reset" oid /* Option < pg_sys :: Oid > */
    ) RETURNS void
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c /* Rust */
    AS 'MODULE_PATHNAME', 'configure_user_table_wrapper';
    CREATE FUNCTION auth.use_user_table(
        user_table regclass,
        id_column name,
        email_column name,
        password_column name,
        password_format text,
        name_column name DEFAULT NULL,
        disabled_column name DEFAULT NULL,
        locale_column name DEFAULT NULL,
        user_filter text DEFAULT NULL,
        on_password_reset regprocedure DEFAULT NULL
    ) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    -- The body as sql/directory.sql has it, to the character.
    AS $$
    SELECT nile_reset.configure_user_table(user_table::oid, id_column::text, email_column::text,
        password_column::text, password_format, name_column::text, disabled_column::text,
        locale_column::text, user_filter, on_password_reset::oid)
$$;
    FOR i IN 1 .. pg_catalog.cardinality(fns)
    LOOP
        -- What CREATE gave (PUBLIC's EXECUTE, default privileges) goes.
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fns[i]);
        FOR grantee_ IN
            SELECT DISTINCT pg_catalog.quote_ident(r.rolname)
              FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
              JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
             WHERE p.oid = fns[i]::regprocedure AND a.grantee <> p.proowner
        LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM %s CASCADE', fns[i], grantee_);
        END LOOP;
        FOR grant_row IN
            SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END AS grantee,
                   a.is_grantable
              FROM pg_catalog.aclexplode(acls[i]::aclitem[]) a
              LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
             WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> owners[i]
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', fns[i], grant_row.grantee,
                CASE WHEN grant_row.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        PERFORM pg_catalog.set_config('nile_reset_update.members_before',
            (pg_catalog.current_setting('nile_reset_update.members_before')::text[]
             || ('pg_catalog.pg_proc'::regclass::oid || '/' || fns[i]::regprocedure::oid))::text, true);
    END LOOP;
END
$use_user_table$;
-- The shipped password_alert says that every session was signed out,
-- which a reset does only for Nile's shape or with on_password_reset: the
-- default now says it through ${sessions_note}, set only then. Only the
-- shipped row as shipped is replaced (delete and insert: an UPDATE of a
-- default row would make it the administrator's, see
-- nile_reset.template_edited); an edited template is the administrator's.
WITH shipped AS (
    DELETE FROM nile_reset.email_templates
     WHERE name = 'password_alert' AND is_default
       AND body = E'Hello ${username},\n\n'
                  'The password of the account ${email} was just changed, and every session was signed out.\n'
                  'If this was not you, reset your password now and contact support.\n'
    RETURNING locale, subject, html_body, sender
)
INSERT INTO nile_reset.email_templates (name, locale, subject, body, html_body, sender, is_default)
SELECT 'password_alert', locale, subject,
       E'Hello ${username},\n\n'
       'The password of the account ${email} was just changed.${sessions_note}\n'
       'If this was not you, reset your password now and contact support.\n',
       html_body, sender, true
  FROM shipped;

-- nile_reset.token_status was never the type of anything: statuses are
-- spelled by src/status.rs and parsed by the HTTP shim.
DROP DOMAIN nile_reset.token_status;

-- Statements of later changes go above this line; the privilege pass stays last.
-- Exactly the grants nile_reset means (docs/security.md), as an install now
-- makes them: default privileges (ALTER DEFAULT PRIVILEGES ... GRANT SELECT
-- ON TABLES TO a BI role) handed 0.2.0's tables, sequences and schema to
-- whoever they named. Those grants go, with a warning naming each: nothing
-- documented grants them to anyone but nile_reset_admin. Functions that
-- existed keep their grants (the README's app and sender recipes grant
-- them, and an update cannot tell a recipe's grant from a default one);
-- functions this update created get the install's treatment.
DO $privileges$
DECLARE
    before text[] := pg_catalog.current_setting('nile_reset_update.members_before')::text[];
    member record;
    grant_ record;
    created boolean;
BEGIN
    FOR member IN
        SELECT d.classid || '/' || d.objid AS key, 'FUNCTION' AS kind,
               pg_catalog.format('FUNCTION %s', p.oid::regprocedure) AS object, p.proacl AS acl, p.proowner AS owner
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
        UNION ALL
        SELECT d.classid || '/' || d.objid, 'RELATION',
               pg_catalog.format('%s %s', CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass),
               c.relacl, c.relowner
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_class'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
        UNION ALL
        SELECT d.classid || '/' || d.objid, 'TYPE', pg_catalog.format('TYPE %s', t.oid::regtype), t.typacl, t.typowner
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_type t ON t.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_type'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
        UNION ALL
        SELECT 'schema', 'SCHEMA', 'SCHEMA nile_reset', n.nspacl, n.nspowner
          FROM pg_catalog.pg_namespace n WHERE n.nspname = 'nile_reset'
    LOOP
        created := member.kind <> 'SCHEMA' AND NOT (member.key = ANY (before));
        CONTINUE WHEN member.kind = 'FUNCTION' AND NOT created;
        IF created AND member.kind = 'FUNCTION' THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', member.object);
        END IF;
        FOR grant_ IN
            SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END AS grantee,
                   pg_catalog.string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
              FROM pg_catalog.aclexplode(member.acl) a
              LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
             WHERE a.grantee <> member.owner
               AND NOT (a.grantee = 0 AND member.kind = 'TYPE')
               AND (created OR r.rolname IS DISTINCT FROM 'nile_reset_admin')
             GROUP BY 1
        LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s CASCADE', member.object, grant_.grantee);
            IF NOT created THEN
                RAISE WARNING 'nile_reset: revoked % on % from %', grant_.privileges, member.object, grant_.grantee
                    USING DETAIL = 'Only nile_reset_admin is ever granted access to nile_reset''s tables, sequences and schema; this grant most likely came from ALTER DEFAULT PRIVILEGES.';
            END IF;
        END LOOP;
    END LOOP;
END
$privileges$;
