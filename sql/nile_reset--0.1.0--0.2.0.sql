-- nile_reset 0.1.0 -> 0.2.0
--
-- What changed, and why (see CHANGELOG.md and README "Use it with your
-- existing app"):
-- * The extension's state moves out of `auth` into a schema of its own,
--   `nile_reset`, so it cannot collide with an application's `auth`
--   (Supabase, Nile) and cannot be shadowed: verification tokens, the email
--   outbox (rows and id sequence kept), templates, template variables and
--   trusted origins. The public functions stay `auth.*`.
-- * Users and passwords become application data. users.users,
--   auth.credentials and auth.sessions stop being extension members (rows
--   kept; DROP EXTENSION no longer drops them), and the new user directory
--   (nile_reset.user_directory) is configured to that Nile shape, so
--   everything keeps working as before. auth.use_user_table() can later
--   point nile_reset at another table.
-- * Tokens are bound to the user id: live tokens get the id of the live
--   user holding their address; tokens of deleted users are dropped.
-- * Edited templates are kept as the administrator's rows; the defaults
--   are marked is_default so that pg_dump skips them. The outbox id
--   sequence is now dumped too, and sent_at/dead_at can no longer both be set.
-- * auth.reset_password returns the user id as text (ids may now be
--   bigint, integer or text); its grants are carried over.
-- * Wake-ups reach plain LISTENers (presence lock; auth.sender_start,
--   auth.sender_stop); outbox rows get html_body, link_expires and a third
--   final state, expired_at; templates per locale with an optional HTML
--   body; auth.defer_emails; auth.generate_password_tokens;
--   auth.normalize_identifier; auth.check_new_password; wrong tokens
--   throttle (last_failure) instead of revoking; auth.generate_password_link
--   is not held back by the resend interval (it sends no email).
-- * New: auth.use_user_table, auth.use_nile_users, auth.sender_limits, the
--   role nile_reset_admin, and the install guard on the ownership of `auth`
--   (applied here too: an `auth` schema owned by a non-superuser refuses
--   the upgrade, since its owner could replace what the functions rely on).

\echo Use "ALTER EXTENSION nile_reset UPDATE" to load this file. \quit

DO $guard$
DECLARE
    auth_owner record;
BEGIN
    SELECT n.nspowner::regrole AS owner, r.rolsuper INTO auth_owner
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
     WHERE n.nspname = 'auth';
    IF NOT auth_owner.rolsuper THEN
        RAISE EXCEPTION 'nile_reset cannot be updated: schema "auth" is owned by role %, which is not a superuser', auth_owner.owner
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Its owner could replace objects that nile_reset''s SECURITY DEFINER functions rely on. Have a superuser own it (ALTER SCHEMA auth OWNER TO postgres), then update again.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'nile_reset') THEN
        RAISE EXCEPTION 'nile_reset cannot be updated: a schema named "nile_reset" already exists'
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'nile_reset 0.2.0 keeps its tokens and outbox in a schema of that name. Rename or drop the existing one.';
    END IF;
END
$guard$;

CREATE SCHEMA nile_reset;
COMMENT ON SCHEMA nile_reset IS 'State of the nile_reset extension: tokens, email outbox, templates, origins, user directory';

-- Administrators of origins, templates, variables and the user directory,
-- without superuser. Roles are cluster-wide: the role may exist already
-- (another database's install); it is only ever granted privileges here.
-- An existing one is adopted only if it has no more than an install gives
-- it: whoever holds ADMIN OPTION on it (PostgreSQL 16+ gives that to a
-- CREATEROLE role that creates it) could grant it to anyone, and a LOGIN
-- role could be logged into, in every database with nile_reset.
DO $role$
DECLARE
    existing record;
BEGIN
    SELECT r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
               OR r.rolreplication OR r.rolbypassrls AS attributes,
           (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(mr.rolname), ', ' ORDER BY mr.rolname)
              FROM pg_catalog.pg_auth_members m
              JOIN pg_catalog.pg_roles mr ON mr.oid = m.member
             WHERE m.roleid = r.oid AND m.admin_option AND NOT mr.rolsuper) AS grantors
      INTO existing
      FROM pg_catalog.pg_roles r WHERE r.rolname = 'nile_reset_admin';
    IF NOT FOUND THEN
        CREATE ROLE nile_reset_admin NOLOGIN;
    ELSIF existing.attributes THEN
        RAISE EXCEPTION 'nile_reset cannot be installed: role nile_reset_admin already exists and can log in or has other attributes'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'nile_reset_admin administers nile_reset in every database. Make it NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS, or drop it, then install again.';
    ELSIF existing.grantors IS NOT NULL THEN
        RAISE EXCEPTION 'nile_reset cannot be installed: role nile_reset_admin already exists and % can grant it', existing.grantors
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Whoever can grant nile_reset_admin administers nile_reset in every database; a role that can create roles may have created it before this install. Drop the role, or REVOKE ADMIN OPTION FOR nile_reset_admin from them, then install again.';
    END IF;
EXCEPTION
    -- Two databases installing at the same moment: the other one made it.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$role$;

-- Token status and delivery outcome spellings, shared by SQL and Rust
-- (src/status.rs parses them exhaustively).
CREATE DOMAIN nile_reset.token_status AS text
    CHECK (VALUE IN ('valid', 'expired', 'invalid'));
CREATE DOMAIN nile_reset.delivery_outcome AS text
    CHECK (VALUE IN ('retry', 'dead'));

-- Where the application's users are. One row (or none: nothing is
-- configured yet). Written only by auth.use_user_table / auth.use_nile_users,
-- which validate every name against the catalog.
CREATE TABLE nile_reset.user_directory (
    singleton         boolean  PRIMARY KEY DEFAULT true CHECK (singleton),
    shape             text     NOT NULL CHECK (shape IN ('table', 'nile')),
    user_table        regclass NOT NULL,
    id_column         name     NOT NULL,
    id_type           text     NOT NULL CHECK (id_type IN ('uuid', 'bigint', 'integer', 'text')),
    email_column      name     NOT NULL,
    password_column   name,
    password_format   text     NOT NULL
        CHECK (password_format IN ('bcrypt', 'django_pbkdf2_sha256', 'argon2id', 'nile')),
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
    CHECK ((disabled_column IS NULL) = (disabled_type IS NULL)),
    CHECK ((shape = 'nile') = (password_format = 'nile')),
    CHECK (shape = 'nile' OR password_column IS NOT NULL),
    CHECK (shape = 'table' OR credentials_table IS NOT NULL),
    CHECK ((lookup_table IS NULL) = (lookup_email_column IS NULL)
           AND (lookup_table IS NULL) = (lookup_id_column IS NULL))
);

-- Users and passwords become application data: no longer members, so
-- DROP EXTENSION leaves them (their rows and privileges are untouched).
ALTER EXTENSION nile_reset DROP TABLE users.users;
ALTER EXTENSION nile_reset DROP TABLE auth.credentials;
ALTER EXTENSION nile_reset DROP TABLE auth.sessions;
DO $users_schema$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                WHERE e.extname = 'nile_reset' AND d.deptype = 'e'
                  AND d.classid = 'pg_catalog.pg_namespace'::regclass
                  AND d.objid = 'users'::regnamespace) THEN
        ALTER EXTENSION nile_reset DROP SCHEMA users;
    END IF;
END
$users_schema$;

INSERT INTO nile_reset.user_directory
    (singleton, shape, user_table, id_column, id_type, email_column, password_column, password_format,
     name_column, disabled_column, disabled_type, credentials_table, sessions_table)
VALUES (true, 'nile', 'users.users'::regclass, 'id', 'uuid', 'email', NULL, 'nile',
        'name', 'deleted', 'timestamp', 'auth.credentials'::regclass, 'auth.sessions'::regclass);

-- One live token per identifier (the user's lower-cased email), bound to
-- the user's id (as text, whatever the id's type): a token stops working
-- when that id no longer has that email or is disabled. `token` holds the
-- hex SHA-256 of the secret, never the secret itself.
CREATE TABLE nile_reset.verification_tokens (
    identifier      text        PRIMARY KEY,
    user_id         text        NOT NULL,
    token           text        NOT NULL CHECK (token ~ '^[0-9a-f]{64}$'),
    expires         timestamptz NOT NULL,
    created         timestamptz NOT NULL DEFAULT now(),
    failed_attempts integer     NOT NULL DEFAULT 0,
    last_failure    timestamptz
);

-- Live tokens keep working, bound to the live user holding their address;
-- tokens whose user is gone are dropped.
INSERT INTO nile_reset.verification_tokens (identifier, user_id, token, expires, created, failed_attempts)
SELECT t.identifier, u.id::text, t.token, t.expires, t.created, t.failed_attempts
  FROM auth.verification_tokens t
  JOIN users.users u ON pg_catalog.lower(u.email) = t.identifier AND u.deleted IS NULL;
ALTER EXTENSION nile_reset DROP TABLE auth.verification_tokens;
DROP TABLE auth.verification_tokens;

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

-- Same layout as before: moved with their rows, indexes and dump marks.
ALTER TABLE auth.trusted_origins SET SCHEMA nile_reset;
ALTER TABLE auth.template_variables SET SCHEMA nile_reset;
ALTER TABLE auth.email_outbox SET SCHEMA nile_reset;
-- The outbox gains the HTML alternative, the expiry of the link a row
-- carries, and a third final state, expired: a row ends sent, dead or
-- expired, never two of them. Rows queued by 0.1.0 have no link expiry
-- recorded, so they are never expired.
ALTER TABLE nile_reset.email_outbox
    ADD COLUMN html_body text,
    ADD COLUMN link_expires timestamptz,
    ADD COLUMN expired_at timestamptz,
    ADD CONSTRAINT email_outbox_one_outcome CHECK (num_nonnulls(sent_at, dead_at, expired_at) <= 1);
DROP INDEX nile_reset.email_outbox_pending;
CREATE INDEX email_outbox_pending ON nile_reset.email_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND dead_at IS NULL AND expired_at IS NULL;

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
 'The password of the account ${email} was just changed, and every session was signed out.\n'
 'If this was not you, reset your password now and contact support.\n',
 'no-reply@localhost', true);

-- Rows that differ from the shipped defaults (or have other names) are
-- the administrator's.
INSERT INTO nile_reset.email_templates (name, subject, body, sender, is_default)
SELECT o.name, o.subject, o.body, o.sender, false
  FROM auth.email_templates o
 WHERE NOT EXISTS (SELECT 1 FROM nile_reset.email_templates d
                    WHERE d.is_default AND (d.name, d.subject, d.body, d.sender) = (o.name, o.subject, o.body, o.sender));
DROP TABLE auth.email_templates;

SELECT pg_catalog.pg_extension_config_dump('nile_reset.user_directory', '');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.verification_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.email_templates', 'WHERE NOT is_default');
SELECT pg_catalog.pg_extension_config_dump('nile_reset.email_outbox_id_seq', '');

-- Functions. The sender's and wake-up functions keep their signatures and
-- now read nile_reset's tables; the worker check moves to nile_reset.
DROP FUNCTION auth.email_outbox_check_worker(text);

-- Wake-ups. Anyone may `LISTEN nile_reset_email` (nile_reset.notify_channel):
-- after every commit that queued email a NOTIFY carrying the outbox id
-- arrives, except while a coalescing sender is awake and draining, which
-- then answers for the row itself. Why coalesce at all: a committing
-- transaction that NOTIFYs takes a cluster-wide lock and holds it through its
-- WAL flush, so notifying commits run one at a time.
--
-- Two advisory locks per channel tell a queuing transaction what it needs:
--   * the sleep lock (nile_reset.wakeup_lock_key): held exclusively by the
--     one coalescing sender that sleeps, waiting for a notification
--     (auth.sender_sleep takes it, auth.sender_awake gives it back);
--   * the presence lock (nile_reset.presence_lock_key): held exclusively by
--     one coalescing sender while it is awake (auth.sender_start and
--     auth.sender_awake take it, auth.sender_sleep and auth.sender_stop
--     give it back; a closed session gives back both).
-- A transaction that queues email, in one statement (src/outbox.rs):
--   1. tries the sleep lock shared, held until it ends. Not granted: a
--      sender sleeps: NOTIFY.
--   2. otherwise tries the presence lock shared and at once gives it back.
--      Granted: no coalescing sender is awake (none runs, or all of them are
--      between two locks): NOTIFY. Not granted: one is awake: skip.
-- Why a skipped NOTIFY loses nothing: the skip needs (1) granted, so until
-- the transaction ends no sender can take the sleep lock; and it needs (2)
-- refused, so at that moment a sender holding the presence lock was awake.
-- That sender keeps draining until it sleeps, and it can only sleep by taking
-- the sleep lock -- after this transaction ended -- and draining once more
-- afterwards, which sees the row. (A sender that dies instead leaves the
-- row to the next one's start-up drain or poll.) A sender that holds both
-- locks at once (between auth.sender_sleep's two steps, or auth.sender_awake's)
-- makes step 1 fail, so the NOTIFY is sent: the overlap errs on the side of
-- waking. Step 2 keeps the presence lock only for an instant, so a waking
-- sender's try for it almost never collides; when it does, the sender is
-- awake without it and queuing transactions just keep notifying until its
-- next auth.sender_awake or auth.sender_start.
-- Cost: one shared advisory lock per transaction, plus a lock and unlock
-- when no sender sleeps; no table, no catalog read.

-- The advisory lock keys of a channel (the Rust side computes the same).
CREATE FUNCTION nile_reset.wakeup_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('x' || left(encode(sha256(convert_to('nile_reset wakeup:' || channel, 'UTF8')), 'hex'), 16))::bit(64)::bigint
$$;

CREATE FUNCTION nile_reset.presence_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('x' || left(encode(sha256(convert_to('nile_reset sender:' || channel, 'UTF8')), 'hex'), 16))::bit(64)::bigint
$$;

CREATE OR REPLACE FUNCTION auth.wakeup_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nile_reset.wakeup_lock_key(channel) $$;

-- Which of the channel's two locks this session holds, in one pg_locks
-- scan (a bigint key shows there as its two halves, objsubid 1). Only the
-- senders' own calls read it, once per sleep or wake-up.
CREATE FUNCTION nile_reset.sender_locks(channel text, OUT asleep boolean, OUT present boolean)
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(bool_or(k.key = nile_reset.wakeup_lock_key(channel)), false),
           coalesce(bool_or(k.key = nile_reset.presence_lock_key(channel)), false)
      FROM pg_locks l,
           LATERAL (SELECT (l.classid::bigint << 32) | l.objid::bigint AS key) k
     WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted
       AND l.mode = 'ExclusiveLock' AND l.objsubid = 1
       AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
$$;

-- A coalescing sender starts (or connects again): it is awake and will
-- drain, so queuing transactions may skip their NOTIFY. True when this
-- session holds the presence lock (false: another sender holds it, and
-- transactions keep notifying for this one). Calling it again is harmless.
CREATE FUNCTION auth.sender_start(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (nile_reset.sender_locks(channel)).present
           OR pg_try_advisory_lock(nile_reset.presence_lock_key(channel))
$$;

-- A sender announces it is going to sleep; it must drain once more after a
-- true answer, then wait for a notification. False when it cannot (queued
-- transactions are still committing, or another sender already sleeps):
-- the caller drains again shortly instead of sleeping for long. Going to
-- sleep gives back the presence lock (after taking the sleep lock).
CREATE OR REPLACE FUNCTION auth.sender_sleep(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held record := nile_reset.sender_locks(channel);
BEGIN
    IF held.asleep THEN
        RETURN true;
    END IF;
    IF NOT pg_try_advisory_lock(nile_reset.wakeup_lock_key(channel)) THEN
        RETURN false;
    END IF;
    IF held.present THEN
        PERFORM pg_advisory_unlock(nile_reset.presence_lock_key(channel));
    END IF;
    RETURN true;
END
$$;

-- A sender woke up: it takes the presence lock (when free) before giving
-- back the sleep lock, then drains. True when it was asleep (held the
-- sleep lock).
CREATE OR REPLACE FUNCTION auth.sender_awake(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held record := nile_reset.sender_locks(channel);
BEGIN
    IF NOT held.present THEN
        PERFORM pg_try_advisory_lock(nile_reset.presence_lock_key(channel));
    END IF;
    IF held.asleep THEN
        RETURN pg_advisory_unlock(nile_reset.wakeup_lock_key(channel));
    END IF;
    RETURN false;
END
$$;

-- A sender stops: it gives back both locks, so queuing transactions
-- notify again (closing the session does the same).
CREATE FUNCTION auth.sender_stop(channel text DEFAULT 'nile_reset_email') RETURNS void
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WHILE (nile_reset.sender_locks(channel)).asleep LOOP
        PERFORM pg_advisory_unlock(nile_reset.wakeup_lock_key(channel));
    END LOOP;
    WHILE (nile_reset.sender_locks(channel)).present LOOP
        PERFORM pg_advisory_unlock(nile_reset.presence_lock_key(channel));
    END LOOP;
END
$$;

-- The email sender's database contract: how `nile-reset send` (or any other
-- sender) claims rows of nile_reset.email_outbox, reports the outcome of each
-- delivery, and reads queue statistics.
--
-- Delivery is at-least-once: a sender claims rows under a time-limited lease
-- (claimed_by, claimed_until). A sender that dies mid-send leaves its lease to
-- expire, after which another sender claims the row again; only the rows that
-- were in flight at that moment can be delivered twice.
--
-- Every function is SECURITY DEFINER with a pinned search_path, so a sender's
-- role needs EXECUTE on these functions and no privilege on the table itself.
-- EXECUTE is revoked from PUBLIC; grant it to the sender's role explicitly.

-- The sender's limits, in one place: these functions enforce them and
-- `nile-reset send` reads them (auth.sender_limits) at start-up, so the two
-- sides cannot disagree. The channel rule is also nile_reset.notify_channel's.
CREATE FUNCTION nile_reset.sender_limits(
    OUT default_channel text,
    OUT channel_pattern text,
    OUT worker_pattern text,
    OUT worker_max_length integer,
    OUT max_attempts_limit integer,
    OUT backoff_base_limit interval,
    OUT lease_min interval,
    OUT lease_max interval,
    OUT batch_size_limit integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'nile_reset_email', '^[A-Za-z0-9_]{1,63}$', '^[!-~]+$', 200, 1000,
           interval '1 hour', interval '1 second', interval '1 day', 1000
$$;

CREATE OR REPLACE FUNCTION auth.sender_limits(
    OUT default_channel text,
    OUT channel_pattern text,
    OUT worker_pattern text,
    OUT worker_max_length integer,
    OUT max_attempts_limit integer,
    OUT backoff_base_limit interval,
    OUT lease_min interval,
    OUT lease_max interval,
    OUT batch_size_limit integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM nile_reset.sender_limits() $$;

-- Shared argument checks, so that every function reports a bad worker id
-- the same way.
CREATE FUNCTION nile_reset.check_worker(worker text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    limits record := nile_reset.sender_limits();
BEGIN
    IF worker IS NULL THEN
        RAISE EXCEPTION 'worker must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(worker) > limits.worker_max_length THEN
        RAISE EXCEPTION 'worker must be at most % characters', limits.worker_max_length
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF worker !~ limits.worker_pattern THEN
        RAISE EXCEPTION 'worker must be non-empty printable ASCII without spaces'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Claims up to batch_size due rows for `worker` for the duration of `lease`.
-- Rows another transaction is claiming right now are skipped, not waited for,
-- so concurrent senders never block each other nor claim the same row.
-- A due row whose link has expired is never returned: it is marked expired
-- (body scrubbed) instead, and the claim looks further, so a batch shorter
-- than batch_size still means nothing else is due. `html_body` (NULL when
-- the template has none) is the last column, so callers that read the
-- first eight columns by position keep working.
-- claim_emails returns html_body as a new last column: dropped and
-- created again, keeping whatever EXECUTE grants it had.
DO $claim_emails$
DECLARE
    acl aclitem[];
    grant_row record;
BEGIN
SELECT p.proacl INTO acl FROM pg_catalog.pg_proc p
 WHERE p.oid = 'auth.claim_emails(text, integer, interval)'::regprocedure;
DROP FUNCTION auth.claim_emails(text, integer, interval);
CREATE FUNCTION auth.claim_emails(
    worker text,
    batch_size integer DEFAULT 20,
    lease interval DEFAULT '60 seconds'
)
RETURNS TABLE (
    id bigint,
    kind text,
    recipient text,
    sender text,
    subject text,
    body text,
    attempts integer,
    created timestamptz,
    html_body text
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    limits record;
    expired integer;
BEGIN
    PERFORM nile_reset.check_worker(worker);
    limits := nile_reset.sender_limits();
    IF batch_size IS NULL THEN
        RAISE EXCEPTION 'batch_size must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF batch_size < 1 OR batch_size > limits.batch_size_limit THEN
        RAISE EXCEPTION 'batch_size must be between 1 and %', limits.batch_size_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease IS NULL THEN
        RAISE EXCEPTION 'lease must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lease < limits.lease_min OR lease > limits.lease_max THEN
        RAISE EXCEPTION 'lease must be between % and % seconds',
                extract(epoch FROM limits.lease_min)::bigint, extract(epoch FROM limits.lease_max)::bigint
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Expire the stale rows among the next batch first, as often as that
    -- finds some: a backlog of expired links costs one pass per batch, and
    -- a claim never scans more than it could return.
    LOOP
        WITH due AS (
            SELECT o.id
            FROM nile_reset.email_outbox AS o
            WHERE o.sent_at IS NULL
              AND o.dead_at IS NULL
              AND o.expired_at IS NULL
              AND o.next_attempt_at <= clock_timestamp()
              AND (o.claimed_until IS NULL OR o.claimed_until < clock_timestamp())
            ORDER BY o.next_attempt_at, o.id
            LIMIT batch_size
            FOR UPDATE SKIP LOCKED
        )
        UPDATE nile_reset.email_outbox AS o
        SET expired_at = clock_timestamp(),
            body = NULL,
            html_body = NULL,
            claimed_by = NULL,
            claimed_until = NULL
        FROM due
        WHERE o.id = due.id
          AND o.link_expires <= clock_timestamp();
        GET DIAGNOSTICS expired = ROW_COUNT;
        EXIT WHEN expired = 0;
    END LOOP;

    RETURN QUERY
    WITH due AS (
        SELECT o.id
        FROM nile_reset.email_outbox AS o
        WHERE o.sent_at IS NULL
          AND o.dead_at IS NULL
          AND o.expired_at IS NULL
          AND (o.link_expires IS NULL OR o.link_expires > clock_timestamp())
          AND o.next_attempt_at <= clock_timestamp()
          AND (o.claimed_until IS NULL OR o.claimed_until < clock_timestamp())
        ORDER BY o.next_attempt_at, o.id
        LIMIT batch_size
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE nile_reset.email_outbox AS o
        SET claimed_by = worker,
            claimed_until = clock_timestamp() + lease
        FROM due
        WHERE o.id = due.id
        RETURNING o.id, o.kind, o.recipient, o.sender, o.subject, o.body, o.attempts, o.created,
                  o.html_body, o.next_attempt_at
    )
    SELECT c.id, c.kind, c.recipient, c.sender, c.subject, c.body, c.attempts, c.created, c.html_body
    FROM claimed AS c
    ORDER BY c.next_attempt_at, c.id;
END
$$;
REVOKE ALL ON FUNCTION auth.claim_emails(text, integer, interval) FROM PUBLIC;
FOR grant_row IN
    SELECT a.grantee, a.is_grantable FROM pg_catalog.aclexplode(acl) a
     WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> a.grantor
LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION auth.claim_emails(text, integer, interval) TO %s%s',
        CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(grant_row.grantee::regrole::text) END,
        CASE WHEN grant_row.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
END LOOP;
END
$claim_emails$;

-- Records a delivery. Only the lease holder may do so, and only once: false
-- means the row was not ours (anymore) or was already sent. The body holds
-- the reset link, so it is scrubbed as soon as it is no longer needed.
CREATE OR REPLACE FUNCTION auth.mark_email_sent(id bigint, worker text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM nile_reset.check_worker(worker);

    UPDATE nile_reset.email_outbox AS o
    SET sent_at = clock_timestamp(),
        claimed_by = NULL,
        claimed_until = NULL,
        body = NULL,
        html_body = NULL,
        last_error = NULL
    WHERE o.id = id
      AND o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL;
    RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION auth.mark_email_sent(bigint, text) FROM PUBLIC;

-- Records a failed delivery attempt by the lease holder and returns what
-- happens next: 'retry' (due again after an exponential backoff with jitter)
-- or 'dead' (permanent error, or max_attempts reached). NULL means the row was
-- not ours (anymore), or already sent or dead; nothing was changed.
-- A dead row keeps its body so that auth.requeue_dead_emails can retry it.
CREATE OR REPLACE FUNCTION auth.mark_email_failed(
    id bigint,
    worker text,
    error text,
    permanent boolean DEFAULT false,
    max_attempts integer DEFAULT 8,
    backoff_base interval DEFAULT '5 seconds'
)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    limits record := nile_reset.sender_limits();
    failures integer;
    delay_seconds double precision;
    outcome nile_reset.delivery_outcome;
BEGIN
    IF id IS NULL OR error IS NULL OR permanent IS NULL OR max_attempts IS NULL OR backoff_base IS NULL THEN
        RAISE EXCEPTION 'id, error, permanent, max_attempts and backoff_base must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM nile_reset.check_worker(worker);
    IF max_attempts < 1 OR max_attempts > limits.max_attempts_limit THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and %', limits.max_attempts_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF backoff_base <= interval '0' OR backoff_base > limits.backoff_base_limit THEN
        RAISE EXCEPTION 'backoff_base must be positive and at most % seconds',
                extract(epoch FROM limits.backoff_base_limit)::bigint
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT o.attempts + 1 INTO failures
    FROM nile_reset.email_outbox AS o
    WHERE o.id = id
      AND o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF permanent OR failures >= max_attempts THEN
        outcome := 'dead';
        delay_seconds := 0;
    ELSE
        outcome := 'retry';
        -- backoff_base, 2x, 4x, ... capped at an hour, then scaled into
        -- [50%, 100%] so that rows failing together do not retry together.
        -- The exponent is capped too: 2^30 times any base is past the cap.
        delay_seconds := least(
                power(2::double precision, least(failures - 1, 30)) * extract(epoch FROM backoff_base),
                3600)
            * (0.5 + random() * 0.5);
    END IF;

    UPDATE nile_reset.email_outbox AS o
    SET attempts = failures,
        last_error = left(error, 1000),
        dead_at = CASE WHEN outcome = 'dead' THEN clock_timestamp() END,
        next_attempt_at = CASE WHEN outcome = 'retry'
                               THEN clock_timestamp() + make_interval(secs => delay_seconds)
                               ELSE o.next_attempt_at END,
        claimed_by = NULL,
        claimed_until = NULL
    WHERE o.id = id;
    RETURN outcome::text;
END
$$;
REVOKE ALL ON FUNCTION auth.mark_email_failed(bigint, text, text, boolean, integer, interval) FROM PUBLIC;

-- Gives back every lease `worker` holds on unsent rows, so that a sender
-- shutting down cleanly does not leave its unsent claims to expire.
-- Returns the number of rows released.
CREATE OR REPLACE FUNCTION auth.release_emails(worker text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    released integer;
BEGIN
    PERFORM nile_reset.check_worker(worker);

    UPDATE nile_reset.email_outbox AS o
    SET claimed_by = NULL,
        claimed_until = NULL
    WHERE o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL;
    GET DIAGNOSTICS released = ROW_COUNT;
    RETURN released;
END
$$;
REVOKE ALL ON FUNCTION auth.release_emails(text) FROM PUBLIC;

-- Gives back the leases `worker` holds on `ids` and makes those rows due
-- again after `delay`, WITHOUT counting an attempt: for failures to reach
-- the relay at all (connect, greeting, TLS), which say nothing about the
-- message, so that an SMTP outage of any length marks nothing dead. The
-- delay is at most backoff_base_limit (auth.sender_limits); `error`, when
-- given, is kept in last_error. Returns the number of rows deferred.
CREATE FUNCTION auth.defer_emails(
    ids bigint[],
    worker text,
    delay interval,
    error text DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    limits record := nile_reset.sender_limits();
    deferred integer;
BEGIN
    IF ids IS NULL OR delay IS NULL THEN
        RAISE EXCEPTION 'ids and delay must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM nile_reset.check_worker(worker);
    IF delay < interval '0' OR delay > limits.backoff_base_limit THEN
        RAISE EXCEPTION 'delay must be between 0 and % seconds',
                extract(epoch FROM limits.backoff_base_limit)::bigint
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    UPDATE nile_reset.email_outbox AS o
    SET claimed_by = NULL,
        claimed_until = NULL,
        next_attempt_at = clock_timestamp() + delay,
        last_error = coalesce(left(error, 1000), o.last_error)
    WHERE o.id = ANY (ids)
      AND o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL;
    GET DIAGNOSTICS deferred = ROW_COUNT;
    RETURN deferred;
END
$$;
REVOKE ALL ON FUNCTION auth.defer_emails(bigint[], text, interval, text) FROM PUBLIC;

-- Puts dead rows (all of them, or those of `ids`) back in the queue as if
-- never tried, and wakes the senders. last_error is kept until the next
-- attempt overwrites or clears it. Returns the number of rows requeued.
CREATE OR REPLACE FUNCTION auth.requeue_dead_emails(ids bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    requeued integer;
BEGIN
    UPDATE nile_reset.email_outbox AS o
    SET dead_at = NULL,
        attempts = 0,
        next_attempt_at = clock_timestamp(),
        claimed_by = NULL,
        claimed_until = NULL
    WHERE o.dead_at IS NOT NULL
      AND o.sent_at IS NULL
      AND (ids IS NULL OR o.id = ANY (ids));
    GET DIAGNOSTICS requeued = ROW_COUNT;

    IF requeued > 0 THEN
        PERFORM pg_notify(
            coalesce(nullif(current_setting('nile_reset.notify_channel', true), ''),
                     (nile_reset.sender_limits()).default_channel),
            '');
    END IF;
    RETURN requeued;
END
$$;
REVOKE ALL ON FUNCTION auth.requeue_dead_emails(bigint[]) FROM PUBLIC;

-- Queue statistics for monitoring. `pending` counts every row not yet sent,
-- dead nor expired, `in_flight` the part of those under a live lease right
-- now; `oldest_pending` is the creation time of the oldest pending row;
-- `expired` counts emails not sent because their link expired first (the
-- last column, so positional readers of the first five keep working).
-- email_outbox_stats reports expired rows in a new last column: dropped and
-- created again, keeping whatever EXECUTE grants it had.
DO $email_outbox_stats$
DECLARE
    acl aclitem[];
    grant_row record;
BEGIN
SELECT p.proacl INTO acl FROM pg_catalog.pg_proc p
 WHERE p.oid = 'auth.email_outbox_stats()'::regprocedure;
DROP FUNCTION auth.email_outbox_stats();
CREATE FUNCTION auth.email_outbox_stats()
RETURNS TABLE (
    pending bigint,
    in_flight bigint,
    dead bigint,
    sent bigint,
    oldest_pending timestamptz,
    expired bigint
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT
        count(*) FILTER (WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.expired_at IS NULL),
        count(*) FILTER (WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.expired_at IS NULL
                           AND o.claimed_until >= clock_timestamp()),
        count(*) FILTER (WHERE o.dead_at IS NOT NULL),
        count(*) FILTER (WHERE o.sent_at IS NOT NULL),
        min(o.created) FILTER (WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.expired_at IS NULL),
        count(*) FILTER (WHERE o.expired_at IS NOT NULL)
    FROM nile_reset.email_outbox AS o
$$;
REVOKE ALL ON FUNCTION auth.email_outbox_stats() FROM PUBLIC;
FOR grant_row IN
    SELECT a.grantee, a.is_grantable FROM pg_catalog.aclexplode(acl) a
     WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> a.grantor
LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION auth.email_outbox_stats() TO %s%s',
        CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(grant_row.grantee::regrole::text) END,
        CASE WHEN grant_row.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
END LOOP;
END
$email_outbox_stats$;

-- Functions implemented in the extension's library, as `cargo pgrx schema`
-- generates them for 0.2.0.
CREATE OR REPLACE FUNCTION auth."add_trusted_origin"(
	"origin" TEXT /* Option < & str > */
) RETURNS TEXT /* String */
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'add_trusted_origin_wrapper';

CREATE OR REPLACE FUNCTION auth."generate_password_link"(
	"email" TEXT, /* Option < & str > */
	"callback_url" TEXT, /* Option < & str > */
	"redirect_url" TEXT /* Option < & str > */
) RETURNS TABLE (
	"created" bool,  /* bool */
	"expires" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"link" TEXT  /* Option < String > */
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'generate_password_link_wrapper';

CREATE OR REPLACE FUNCTION auth."generate_password_token"(
	"email" TEXT, /* Option < & str > */
	"callback_url" TEXT, /* Option < & str > */
	"redirect_url" TEXT /* Option < & str > */
) RETURNS TABLE (
	"created" bool,  /* bool */
	"expires" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"outbox_id" bigint  /* Option < i64 > */
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'generate_password_token_wrapper';

-- New: many emails in one statement (breach response).
CREATE FUNCTION auth."generate_password_tokens"(
	"emails" TEXT[], /* :: std :: option :: Option < Vec < Option < String > > > */
	"callback_url" TEXT, /* Option < & str > */
	"redirect_url" TEXT /* Option < & str > */
) RETURNS TABLE (
	"email" TEXT,  /* String */
	"created" bool  /* bool */
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'generate_password_tokens_wrapper';

-- New: the password policy on its own, so a client can refuse a password
-- before it asks for a link (Nile's SDK sends it with ?json=true).
CREATE FUNCTION auth."check_new_password"(
	"new_password" TEXT /* Option < & str > */
) RETURNS void
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'check_new_password_wrapper';

CREATE OR REPLACE FUNCTION auth."is_trusted_url"(
	"url" TEXT /* & str */
) RETURNS bool /* bool */
STRICT STABLE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'is_trusted_url_wrapper';

CREATE OR REPLACE FUNCTION auth."remove_trusted_origin"(
	"origin" TEXT /* Option < & str > */
) RETURNS bool /* bool */
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'remove_trusted_origin_wrapper';

CREATE OR REPLACE FUNCTION auth."verify_password_token"(
	"identifier" TEXT, /* Option < & str > */
	"token" TEXT /* Option < & str > */
) RETURNS TABLE (
	"status" TEXT,  /* String */
	"expires" timestamp with time zone  /* Option < TimestampWithTimeZone > */
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'verify_password_token_wrapper';

CREATE FUNCTION nile_reset."configure_nile_users"() RETURNS void
STRICT
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'configure_nile_users_wrapper';

CREATE FUNCTION nile_reset."configure_user_table"(
	"user_table" oid, /* Option < pg_sys :: Oid > */
	"id_column" TEXT, /* Option < & str > */
	"email_column" TEXT, /* Option < & str > */
	"password_column" TEXT, /* Option < & str > */
	"password_format" TEXT, /* Option < & str > */
	"name_column" TEXT, /* Option < & str > */
	"disabled_column" TEXT, /* Option < & str > */
	"locale_column" TEXT /* Option < & str > */
) RETURNS void
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'configure_user_table_wrapper';

-- New: the email lookup table (auth.use_email_lookup) and the Citus layout
-- check (auth.use_citus).
CREATE FUNCTION nile_reset."configure_email_lookup"(
	"lookup_table" oid, /* Option < pg_sys :: Oid > */
	"email_column" TEXT, /* Option < & str > */
	"user_id_column" TEXT /* Option < & str > */
) RETURNS void
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'configure_email_lookup_wrapper';

CREATE FUNCTION auth."use_citus"() RETURNS TABLE (
	"part" TEXT,  /* String */
	"layout" TEXT  /* String */
)
STRICT
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'use_citus_wrapper';

-- reset_password now returns the user id as text: recreate it, keeping
-- whatever EXECUTE grants it had.
DO $reset_password$
DECLARE
    acl aclitem[];
    grant_row record;
BEGIN
    SELECT p.proacl INTO acl FROM pg_catalog.pg_proc p
     WHERE p.oid = 'auth.reset_password(text, text, text)'::regprocedure;
    DROP FUNCTION auth.reset_password(text, text, text);
    CREATE FUNCTION auth.reset_password(
    	"identifier" TEXT, /* Option < & str > */
    	"token" TEXT, /* Option < & str > */
    	"new_password" TEXT /* Option < & str > */
    ) RETURNS TEXT /* String */
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c /* Rust */
    AS 'MODULE_PATHNAME', 'reset_password_wrapper';
    REVOKE ALL ON FUNCTION auth.reset_password(text, text, text) FROM PUBLIC;
    FOR grant_row IN
        SELECT a.grantee, a.is_grantable FROM pg_catalog.aclexplode(acl) a
         WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> a.grantor
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION auth.reset_password(text, text, text) TO %s%s',
            CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(grant_row.grantee::regrole::text) END,
            CASE WHEN grant_row.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$reset_password$;

-- The user directory's public functions (their checks are in
-- src/directory.rs). SECURITY INVOKER on purpose: the caller's own rights
-- decide which table it may point nile_reset at. EXECUTE is granted to
-- superusers and nile_reset_admin only (sql/privileges.sql).

-- Points nile_reset at the application's users table; see README "Use it
-- with your existing app". Replaces any previous configuration. The trailing
-- locale_column (0.2.0) has a default, so calls written for the first seven
-- arguments keep working.
CREATE FUNCTION auth.use_user_table(
    user_table regclass,
    id_column name,
    email_column name,
    password_column name,
    password_format text,
    name_column name DEFAULT NULL,
    disabled_column name DEFAULT NULL,
    locale_column name DEFAULT NULL
) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT nile_reset.configure_user_table(user_table::oid, id_column::text, email_column::text,
        password_column::text, password_format, name_column::text, disabled_column::text,
        locale_column::text)
$$;

-- Nile's shape: users.users + auth.credentials (+ auth.sessions), adopted
-- when they exist, created (as ordinary tables, not extension members)
-- when they do not.
CREATE FUNCTION auth.use_nile_users() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nile_reset.configure_nile_users() $$;

-- Names the application's email lookup table (lower-cased email -> user id),
-- which the user directory then reads instead of searching the users table
-- by lower(email): one row, one shard on Citus. NULL removes it. See README
-- "Scaling out with Citus". use_user_table and use_nile_users remove it.
CREATE FUNCTION auth.use_email_lookup(
    lookup_table regclass,
    email_column name DEFAULT NULL,
    user_id_column name DEFAULT NULL
) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT nile_reset.configure_email_lookup(lookup_table::oid, email_column::text,
        user_id_column::text)
$$;

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
    -- A fresh install grants USAGE on `auth` when it created that schema.
    -- 0.1.0 created `auth` itself unless it existed before, and then the
    -- schema belongs to the extension's owner: grant in that case only; a
    -- schema someone else owns keeps its owner's privileges.
    IF (SELECT n.nspowner = e.extowner
          FROM pg_catalog.pg_namespace n, pg_catalog.pg_extension e
         WHERE n.nspname = 'auth' AND e.extname = 'nile_reset') THEN
        GRANT USAGE ON SCHEMA auth TO nile_reset_admin;
    END IF;
END
$privileges$;
