-- nile_reset's layout. The public functions live in the extension schema
-- `auth` (control file), which an application may already have (Supabase,
-- Nile). Everything the extension keeps -- tokens, the email outbox,
-- templates, origins, the user-directory configuration -- lives in a schema
-- of its own, `nile_reset`, created here and owned by the installing
-- superuser, so no application object can collide with it or shadow it.
-- Users and passwords are the application's: the extension reads and writes
-- the table configured with auth.use_user_table / auth.use_nile_users and
-- never owns it, so DROP EXTENSION never drops an account.

-- Refuse layouts that cannot be made safe, before anything is created.
-- SECURITY DEFINER code must never depend on objects a non-superuser
-- controls: a pre-existing `auth` owned by one could be renamed and replaced
-- by look-alikes. The one exception is the schema CREATE EXTENSION itself
-- created a moment ago in this transaction for a database owner installing a
-- trusted extension: it is empty, and is handed to the superuser running
-- this script.
DO $guard$
DECLARE
    auth_schema record;
BEGIN
    SELECT n.oid, n.nspowner::regrole AS owner, r.rolsuper,
           n.xmin = pg_catalog.pg_current_xact_id()::pg_catalog.xid
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = n.oid)
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = n.oid)
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE typnamespace = n.oid) AS created_now,
           (SELECT pg_catalog.string_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(g.rolname) END,
                                         ', ' ORDER BY g.rolname NULLS FIRST)
              FROM pg_catalog.aclexplode(n.nspacl) a
              LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
             WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner
               AND NOT COALESCE(g.rolsuper, false)) AS creators
      INTO auth_schema
      FROM pg_catalog.pg_namespace n
      JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
     WHERE n.nspname = 'auth';
    -- A role that may create in `auth` can add an overload of a public
    -- function, e.g. auth.reset_password(varchar, varchar, varchar), that a
    -- client binding varchar parameters (JDBC's setString) calls instead of
    -- ours, with the new password. Supabase grants CREATE on its `auth` to
    -- supabase_auth_admin and dashboard_user. An `auth` this very statement
    -- created is exempt: default privileges on it are removed at the end.
    IF FOUND AND auth_schema.creators IS NOT NULL AND NOT auth_schema.created_now
       AND pg_catalog.current_setting('nile_reset.allow_auth_schema_creators', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'nile_reset cannot be installed: roles other than the owner of schema "auth" can create objects in it: %', auth_schema.creators
            USING ERRCODE = 'insufficient_privilege',
                  HINT = pg_catalog.format('They could shadow nile_reset''s functions for callers that pass varchar or unknown-typed arguments. REVOKE CREATE ON SCHEMA auth FROM %s, or, if they must keep it, SET nile_reset.allow_auth_schema_creators = on before CREATE EXTENSION and have every caller pass text-typed arguments (docs/security.md).', auth_schema.creators);
    END IF;
    IF FOUND AND NOT auth_schema.rolsuper THEN
        IF auth_schema.created_now THEN
            EXECUTE pg_catalog.format('ALTER SCHEMA auth OWNER TO %I', current_user);
        ELSE
            RAISE EXCEPTION 'nile_reset cannot be installed: schema "auth" is owned by role %, which is not a superuser', auth_schema.owner
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Its owner could replace objects that nile_reset''s SECURITY DEFINER functions rely on. Have a superuser own it (ALTER SCHEMA auth OWNER TO postgres) or drop it, then install again.';
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'nile_reset') THEN
        RAISE EXCEPTION 'nile_reset cannot be installed: a schema named "nile_reset" already exists'
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'nile_reset keeps its tokens and outbox in a schema of that name. Rename or drop the existing one.';
    END IF;
END
$guard$;

CREATE SCHEMA nile_reset;
COMMENT ON SCHEMA nile_reset IS 'State of the nile_reset extension: tokens, email outbox, templates, origins, user directory';

-- Administrators (origins, templates, variables, the user directory) are
-- this database's own, named with auth.grant_admin (sql/admin.sql,
-- src/admin.rs): the install creates no role. Roles are cluster-wide, and
-- 0.2.0's nile_reset_admin administered every database that had nile_reset.

-- The outcomes the sender may report for an email (auth.mark_email_failed
-- returns one; the sender's Rust enum parses them exhaustively).
CREATE DOMAIN nile_reset.delivery_outcome AS text
    CHECK (VALUE IN ('retry', 'dead'));

-- Where the application's users are. One row (or none: nothing is
-- configured yet). Written only by auth.use_user_table / auth.use_nile_users
-- (and auth.use_email_lookup for the lookup columns),
-- which validate every name against the catalog. `user_filter` is the
-- application's own rule of who may reset (a boolean SQL expression over the
-- table's columns, checked when configured); `on_password_reset` the
-- application's function that a reset calls with the user's id, as its
-- schema-qualified signature: text, since pg_upgrade refuses user tables
-- with regprocedure columns.
CREATE TABLE nile_reset.user_directory (
    singleton         boolean  PRIMARY KEY DEFAULT true CHECK (singleton),
    shape             text     NOT NULL CHECK (shape IN ('table', 'nile')),
    user_table        regclass NOT NULL,
    id_column         name     NOT NULL,
    id_type           text     NOT NULL CHECK (id_type IN ('uuid', 'bigint', 'integer', 'text')),
    email_column      name     NOT NULL,
    password_column   name,
    password_format   text     NOT NULL
        CHECK (password_format IN ('bcrypt', 'django_pbkdf2_sha256', 'argon2id', 'django_argon2', 'nile')),
    name_column       name,
    disabled_column   name,
    disabled_type     text     CHECK (disabled_type IN ('boolean', 'timestamp')),
    credentials_table regclass,
    sessions_table    regclass,
    configured        timestamptz NOT NULL DEFAULT now(),
    locale_column     name,
    lookup_table        regclass,
    lookup_email_column name,
    lookup_id_column    name,
    user_filter         text,
    on_password_reset   text,
    CHECK ((disabled_column IS NULL) = (disabled_type IS NULL)),
    CHECK ((shape = 'nile') = (password_format = 'nile')),
    CHECK (shape = 'nile' OR password_column IS NOT NULL),
    CHECK (shape = 'table' OR credentials_table IS NOT NULL),
    CHECK ((lookup_table IS NULL) = (lookup_email_column IS NULL)
           AND (lookup_table IS NULL) = (lookup_id_column IS NULL))
);

-- One live token per identifier (the user's lower-cased email), bound to
-- the user's id (as text, whatever the id's type): a token stops working
-- when that id no longer has that email or is disabled. `token` holds the
-- hex SHA-256 of the secret, never the secret itself. Only the extension
-- writes it, so it has no CHECK of that shape: a regular expression on every
-- issued token would cost more than the rest of the row's checks together.
CREATE TABLE nile_reset.verification_tokens (
    identifier text        PRIMARY KEY,
    user_id    text        NOT NULL,
    token      text        NOT NULL,
    expires    timestamptz NOT NULL,
    created    timestamptz NOT NULL DEFAULT now()
);

-- The one normalization of identifiers: every function compares emails
-- through it, and callers (the HTTP shim) use auth.normalize_identifier
-- instead of lower-casing on their own, which would disagree with the
-- database for letters such as a final 'Σ'. Fully qualified and without
-- SET, so PostgreSQL inlines it.
CREATE FUNCTION nile_reset.normalize_identifier(email text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.lower(pg_catalog.btrim(email)) $$;

-- The callers' entry point: SECURITY DEFINER, like every auth function, so
-- a role granted only this needs nothing in nile_reset.
CREATE FUNCTION auth.normalize_identifier(email text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nile_reset.normalize_identifier(email) $$;

-- Origins that reset links and callbacks may point to.
CREATE TABLE nile_reset.trusted_origins (
    origin text PRIMARY KEY CHECK (origin ~ '^https?://[^/?#@[:space:]]+$'),
    added  timestamptz NOT NULL DEFAULT now()
);

-- `is_default` marks the rows this script inserts. pg_dump keeps only the
-- others, so a restore never collides with the defaults CREATE EXTENSION
-- inserts again; an edited default is a second row of the same name and
-- locale, which wins over the default (deleting it brings the default back).
-- One row per locale (a BCP 47 tag such as `en`, `pt-BR`): a user gets their
-- own locale's, else their language's, else nile_reset.default_locale's,
-- else any. `html_body`, when set, is sent as the HTML alternative of `body`.
CREATE TABLE nile_reset.email_templates (
    name       text    NOT NULL,
    locale     text    NOT NULL DEFAULT 'en' CHECK (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$'),
    subject    text    NOT NULL,
    body       text    NOT NULL,
    html_body  text,
    sender     text    NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    PRIMARY KEY (name, locale, is_default)
);

-- Editing a default template makes it the administrator's row: the edit
-- clears is_default, or goes to the administrator's row when one exists
-- (as after a restore), leaving the default as shipped.
CREATE FUNCTION nile_reset.template_edited() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.is_default AND NEW.is_default
       AND (NEW.name, NEW.locale, NEW.subject, NEW.body, NEW.html_body, NEW.sender)
           IS DISTINCT FROM (OLD.name, OLD.locale, OLD.subject, OLD.body, OLD.html_body, OLD.sender) THEN
        IF EXISTS (SELECT 1 FROM nile_reset.email_templates t
                    WHERE t.name = NEW.name AND t.locale = NEW.locale AND NOT t.is_default) THEN
            RETURN NULL;
        END IF;
        NEW.is_default := false;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER template_edited BEFORE UPDATE ON nile_reset.email_templates
    FOR EACH ROW EXECUTE FUNCTION nile_reset.template_edited();

CREATE TABLE nile_reset.template_variables (
    name  text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    value text NOT NULL
);

-- The transactional outbox: a row is queued in the same transaction as the
-- token, so a rolled-back reset sends nothing. An external sender claims
-- rows under a lease and records the outcome; see docs/outbox.md.
-- A row ends sent, dead, or expired (its link expired before it could be
-- sent: `link_expires` is the token's expiry, NULL for emails without one).
CREATE TABLE nile_reset.email_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    sender          text        NOT NULL,
    subject         text        NOT NULL,
    body            text,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_by      text,
    claimed_until   timestamptz,
    sent_at         timestamptz,
    dead_at         timestamptz,
    last_error      text,
    html_body       text,
    link_expires    timestamptz,
    expired_at      timestamptz,
    CONSTRAINT email_outbox_one_outcome CHECK (num_nonnulls(sent_at, dead_at, expired_at) <= 1)
);
CREATE INDEX email_outbox_pending ON nile_reset.email_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND dead_at IS NULL AND expired_at IS NULL;

INSERT INTO nile_reset.email_templates (name, subject, body, sender, is_default) VALUES
('password_reset',
 'Reset your password',
 E'Hello ${username},\n\n'
 'Someone asked to reset the password of the account ${email}.\n'
 'To choose a new password, open this link:\n\n'
 '${api_url}\n\n'
 'The link works once and expires soon. If you did not ask for this, ignore this email.\n',
 'no-reply@localhost', true),
('password_alert',
 'Your password was changed',
 E'Hello ${username},\n\n'
 'The password of the account ${email} was just changed.${sessions_note}\n'
 'If this was not you, reset your password now and contact support.\n',
 'no-reply@localhost', true);

-- pg_dump keeps the data of extension tables, and the position of their
-- sequences, only when they are marked.
SELECT pg_catalog.pg_extension_config_dump('nile_reset.user_directory', '');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.verification_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.trusted_origins', '');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.email_templates', 'WHERE NOT is_default');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.template_variables', '');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.email_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.email_outbox_id_seq', '');
