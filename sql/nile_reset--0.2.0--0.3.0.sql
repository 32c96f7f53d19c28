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
-- * Each backend caches the user directory, the trusted origins and the
--   templates: new trigger function nile_reset.configuration_changed and a
--   statement-level trigger of that name on each configuration table.
-- * Administration per database: auth.grant_admin(regrole),
--   auth.revoke_admin(regrole) (a superuser or the database's owner) and
--   auth.admins(), recorded in the new table nile_reset.admins. The
--   cluster-wide role nile_reset_admin administered every database: where it
--   holds grants here (and still passes the install's checks of 0.2.0), it
--   is recorded as this database's administrator, so its members keep their
--   rights here until SELECT auth.revoke_admin('nile_reset_admin'). Its grants
--   and every other grant but the extension's own stop being recorded as
--   initial privileges (pg_init_privs), which pg_dump left out of dumps
--   (nile_reset.reset_initial_privileges). pg_database_owner may call the
--   three functions, and gets USAGE on an auth schema the install created
--   (nile_reset.auth_schema_created()).
-- * verification_tokens loses its CHECK (token ~ '^[0-9a-f]{64}$'): a
--   regular expression run on every issued token (about 5% of the call),
--   guarding nothing: only the extension writes the column, always the
--   SHA-256 digest it computed, and a raw token has the same shape.
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

-- The per-backend configuration cache (src/cache.rs, sql/cache.sql): each
-- configuration table tells every backend when it changed.
CREATE FUNCTION nile_reset."configuration_changed"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'configuration_changed_wrapper';
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.user_directory
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.trusted_origins
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.email_templates
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.template_variables
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();

-- Administration per database (src/admin.rs, sql/admin.sql): the record
-- of this database's administrators, and the functions that keep it.
CREATE TABLE nile_reset.admins (
    role       regrole     PRIMARY KEY,
    granted_by name        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    auth_usage boolean     NOT NULL DEFAULT false
);
SELECT pg_catalog.pg_extension_config_dump('nile_reset.admins', '');
CREATE FUNCTION auth."grant_admin"("role" regrole) RETURNS boolean
VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'grant_admin_wrapper';
CREATE FUNCTION auth."revoke_admin"("role" regrole) RETURNS boolean
VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'revoke_admin_wrapper';
CREATE FUNCTION auth."admins"() RETURNS TABLE ("role" regrole, "granted_by" text, "granted_at" timestamptz)
STABLE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'admins_wrapper';
CREATE FUNCTION nile_reset."reset_initial_privileges"() RETURNS void
STRICT
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'reset_initial_privileges_wrapper';
-- Whether the install created `auth`, as sql/privileges.sql finds it at
-- install: 0.1.0 and 0.2.0 made grants on `auth` (to nile_reset_admin) in
-- their scripts only when they had created it, and PostgreSQL recorded
-- those as the schema's initial privileges.
DO $auth_schema_created$
BEGIN
    EXECUTE pg_catalog.format('CREATE FUNCTION nile_reset.auth_schema_created() RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
        CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_init_privs i JOIN pg_catalog.pg_namespace n ON n.oid = i.objoid
                           WHERE i.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
                             AND n.nspname = 'auth' AND i.privtype = 'e')
             THEN 'SELECT true' ELSE 'SELECT false' END);
END
$auth_schema_created$;
-- 0.2.0's administrators were the members of the cluster-wide role
-- nile_reset_admin, in every database with nile_reset. Where it holds
-- grants on nile_reset's objects, it stays this database's administrator
-- (its members keep their rights here, and only here) until SELECT
-- auth.revoke_admin('nile_reset_admin'); where an administrator took them
-- (DROP OWNED BY nile_reset_admin) it is not recorded. Whoever can grant it
-- would administer this database: it is recorded only if it still passes
-- the checks 0.2.0's install made before adopting it.
DO $admins$
DECLARE
    existing record;
BEGIN
    SELECT r.oid, r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
                  OR r.rolreplication OR r.rolbypassrls AS attributes,
           (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(mr.rolname), ', ' ORDER BY mr.rolname)
              FROM pg_catalog.pg_auth_members m
              JOIN pg_catalog.pg_roles mr ON mr.oid = m.member
             WHERE m.roleid = r.oid AND m.admin_option AND NOT mr.rolsuper) AS grantors,
           nile_reset.auth_schema_created()
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
                        WHERE n.nspname = 'auth' AND a.grantee = r.oid AND a.privilege_type = 'USAGE') AS auth_usage
      INTO existing
      FROM pg_catalog.pg_roles r
     WHERE r.rolname = 'nile_reset_admin'
       AND EXISTS (
           SELECT 1
             FROM pg_catalog.pg_depend d
             LEFT JOIN pg_catalog.pg_proc p ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = d.objid
             LEFT JOIN pg_catalog.pg_class c ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = d.objid,
                  pg_catalog.aclexplode(COALESCE(p.proacl, c.relacl)) a
            WHERE d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset')
              AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
              AND a.grantee = r.oid
           UNION ALL
           SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
            WHERE n.nspname = 'nile_reset' AND a.grantee = r.oid);
    IF NOT FOUND THEN
        RETURN;
    ELSIF existing.attributes THEN
        RAISE EXCEPTION 'nile_reset cannot be updated: role nile_reset_admin, which administers it here, can log in or has other attributes'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The update keeps nile_reset_admin as this database''s administrator. Make it NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS, or take its rights here (DROP OWNED BY nile_reset_admin), then update again; name administrators with auth.grant_admin afterwards.';
    ELSIF existing.grantors IS NOT NULL THEN
        RAISE EXCEPTION 'nile_reset cannot be updated: role nile_reset_admin, which administers it here, can be granted by %', existing.grantors
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The update keeps nile_reset_admin as this database''s administrator, and whoever can grant it would administer this database. REVOKE ADMIN OPTION FOR nile_reset_admin from them, or take its rights here (DROP OWNED BY nile_reset_admin), then update again; name administrators with auth.grant_admin afterwards.';
    END IF;
    INSERT INTO nile_reset.admins (role, granted_by, auth_usage)
    VALUES (existing.oid::pg_catalog.regrole, CURRENT_USER, existing.auth_usage);
END
$admins$;

-- The token CHECK: see the header.
ALTER TABLE nile_reset.verification_tokens DROP CONSTRAINT verification_tokens_token_check;

-- Statements of later changes go above this line; the privilege pass stays last.
-- Exactly the grants nile_reset means (docs/security.md), as an install now
-- makes them: default privileges (ALTER DEFAULT PRIVILEGES ... GRANT SELECT
-- ON TABLES TO a BI role) handed 0.2.0's tables, sequences and schema to
-- whoever they named. Those grants go, with a warning naming each: nothing
-- documented grants them to anyone but this database's administrators
-- (nile_reset_admin, when recorded above). Functions that
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
               AND (created OR a.grantee NOT IN (SELECT role::pg_catalog.oid FROM nile_reset.admins))
             GROUP BY 1
        LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s CASCADE', member.object, grant_.grantee);
            IF NOT created THEN
                RAISE WARNING 'nile_reset: revoked % on % from %', grant_.privileges, member.object, grant_.grantee
                    USING DETAIL = 'Only this database''s administrators (auth.admins()) are ever granted access to nile_reset''s tables, sequences and schema; this grant most likely came from ALTER DEFAULT PRIVILEGES.';
            END IF;
        END LOOP;
    END LOOP;
    -- As sql/privileges.sql grants them: the database's owner names its
    -- administrators (the functions check their caller themselves too).
    GRANT EXECUTE ON FUNCTION auth.grant_admin(regrole), auth.revoke_admin(regrole), auth.admins()
        TO pg_database_owner;
    IF nile_reset.auth_schema_created() THEN
        GRANT USAGE ON SCHEMA auth TO pg_database_owner;
    END IF;
    -- Last: the extension's initial privileges become a fresh install's,
    -- every other grant (nile_reset_admin's, a recipe's, any on `auth`)
    -- this database's.
    PERFORM nile_reset.reset_initial_privileges();
END
$privileges$;
