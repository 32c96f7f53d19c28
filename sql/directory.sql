-- The user directory's public functions (their checks are in
-- src/directory/configure.rs and catalog.rs). SECURITY INVOKER on purpose: the caller's own rights
-- decide which table it may point nile_reset at. EXECUTE is granted to
-- this database's administrators only (auth.grant_admin, src/admin.rs).

-- Points nile_reset at the application's users table; see README "Use it
-- with your existing app". Replaces any previous configuration. The trailing
-- arguments have defaults, so calls written for the first seven (0.1.0) or
-- eight (0.2.0) arguments keep working. user_filter (0.3.0): who may reset,
-- a boolean SQL expression over the table's columns; on_password_reset
-- (0.3.0): a function (id <id column's type>) RETURNS void that a reset
-- calls after writing the new hash. Both run as the table's owner.
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
AS $$
    SELECT nile_reset.configure_user_table(user_table::oid, id_column::text, email_column::text,
        password_column::text, password_format, name_column::text, disabled_column::text,
        locale_column::text, user_filter, on_password_reset::oid)
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
-- by lower(email): one row, one shard on Citus. NULL removes it. See
-- docs/citus.md. use_user_table and use_nile_users remove it.
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
