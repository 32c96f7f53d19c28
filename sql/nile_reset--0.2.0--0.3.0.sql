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
