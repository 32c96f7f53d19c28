//! Configuration: the Rust halves of `auth.use_user_table`,
//! `auth.use_nile_users` and `auth.use_email_lookup`, and Nile's tables.
//! They check every name against the catalog (see `catalog`), then store
//! the configuration in `nile_reset.user_directory` as the extension's
//! owner: the caller may configure only through these checks, never write
//! the table itself.

use std::panic::AssertUnwindSafe;

use pgrx::prelude::*;
use pgrx::PgTryBuilder;

use super::catalog::{
    check_hook, check_table, check_text, column_info, column_info_in, disabled_type_of, id_type_of,
    wrong_type,
};
use super::{not_configured, stored, DisabledType, IdType, Shape, Spelled};
use crate::error::{required, ArgError};
use crate::password::PasswordFormat;
use crate::spi::{as_role, first_row, not_null};

/// The configuration to store.
struct Config<'a> {
    shape: Shape,
    table: pg_sys::Oid,
    id: &'a str,
    id_type: IdType,
    email: &'a str,
    password: Option<&'a str>,
    format: PasswordFormat,
    name: Option<&'a str>,
    locale: Option<&'a str>,
    disabled: Option<(&'a str, DisabledType)>,
    credentials: Option<pg_sys::Oid>,
    sessions: Option<pg_sys::Oid>,
    filter: Option<&'a str>,
    /// The `on_password_reset` function's schema-qualified signature.
    hook: Option<String>,
}

fn extension_owner() -> pg_sys::Oid {
    Spi::get_one::<pg_sys::Oid>(
        "SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'nile_reset'",
    )
    .unwrap_or_else(|e| crate::spi::spi_failed(e))
    .unwrap_or_else(|| crate::error::internal_error("schema nile_reset is missing"))
}

/// Replaces the configuration; the email lookup goes with the old one.
fn store(config: Config<'_>) {
    let owner = extension_owner();
    as_role(owner, || {
        Spi::run_with_args(
            "INSERT INTO nile_reset.user_directory AS d
                 (singleton, shape, user_table, id_column, id_type, email_column, password_column,
                  password_format, name_column, disabled_column, disabled_type,
                  credentials_table, sessions_table, configured, locale_column,
                  user_filter, on_password_reset)
             VALUES (true, $1, $2::pg_catalog.oid::pg_catalog.regclass, $3, $4, $5, $6, $7, $8, $9, $10,
                     $11::pg_catalog.oid::pg_catalog.regclass, $12::pg_catalog.oid::pg_catalog.regclass,
                     pg_catalog.now(), $13, $14, $15)
             ON CONFLICT (singleton) DO UPDATE SET
                 shape = excluded.shape, user_table = excluded.user_table,
                 id_column = excluded.id_column, id_type = excluded.id_type,
                 email_column = excluded.email_column, password_column = excluded.password_column,
                 password_format = excluded.password_format, name_column = excluded.name_column,
                 disabled_column = excluded.disabled_column, disabled_type = excluded.disabled_type,
                 credentials_table = excluded.credentials_table,
                 sessions_table = excluded.sessions_table, configured = excluded.configured,
                 locale_column = excluded.locale_column,
                 user_filter = excluded.user_filter, on_password_reset = excluded.on_password_reset,
                 lookup_table = NULL, lookup_email_column = NULL, lookup_id_column = NULL",
            &[
                config.shape.as_str().into(),
                config.table.into(),
                config.id.into(),
                config.id_type.as_str().into(),
                config.email.into(),
                config.password.into(),
                config.format.as_str().into(),
                config.name.into(),
                config.disabled.map(|(c, _)| c).into(),
                config.disabled.map(|(_, t)| t.as_str()).into(),
                config.credentials.into(),
                config.sessions.into(),
                config.locale.into(),
                config.filter.into(),
                config.hook.as_deref().into(),
            ],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    });
}

/// The table's schema-qualified, quoted name, as `load` resolves it.
fn quoted_name(table: pg_sys::Oid) -> String {
    super::resolve::relation(table)
        .map(|(name, _owner)| name)
        .unwrap_or_else(|| crate::error::internal_error("the user table vanished while checked"))
}

/// Plans the filter against the table as its owner, as the lookups will
/// run it (EXPLAIN checks privileges as running would): PostgreSQL's own
/// error, prefixed, for a missing column (42703), a non-boolean (42804), a
/// table the owner may not read (42501), ...
fn plan_filter(users: &str, owner: pg_sys::Oid, filter: &str) {
    let sql = format!(
        "EXPLAIN (COSTS OFF) SELECT 1 FROM {users} u WHERE {}",
        super::filter::conjunct(filter)
    );
    PgTryBuilder::new(AssertUnwindSafe(|| {
        as_role(owner, || {
            Spi::run(&sql).unwrap_or_else(|e| crate::spi::spi_failed(e))
        })
    }))
    .catch_others(|error| {
        // Raised again at once, with its SQLSTATE: the transaction aborts,
        // which undoes whatever planning had done.
        let report = crate::error::report_of(&error);
        ereport!(
            ERROR,
            report.sql_error_code(),
            format!("user_filter: {}", report.message())
        );
    })
    .execute();
}

/// Sets (or, with None, removes) the email lookup of the configured
/// directory, as the extension owner.
fn write_lookup(table: Option<pg_sys::Oid>, email: Option<&str>, id: Option<&str>) {
    let owner = extension_owner();
    as_role(owner, || {
        Spi::run_with_args(
            "UPDATE nile_reset.user_directory
                SET lookup_table = $1::pg_catalog.oid::pg_catalog.regclass,
                    lookup_email_column = $2, lookup_id_column = $3",
            &[table.into(), email.into(), id.into()],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    });
}

/// Nile's tables, created when missing. They are ordinary tables, not
/// members of the extension: DROP EXTENSION leaves them and their rows.
const NILE_TABLES: &str = "
CREATE SCHEMA IF NOT EXISTS users;
CREATE TABLE IF NOT EXISTS users.users (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    created        timestamptz NOT NULL DEFAULT now(),
    updated        timestamptz NOT NULL DEFAULT now(),
    deleted        timestamptz,
    name           text,
    family_name    text,
    given_name     text,
    email          text        NOT NULL,
    picture        text,
    email_verified timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_live ON users.users (lower(email)) WHERE deleted IS NULL;
CREATE TABLE IF NOT EXISTS auth.credentials (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    created             timestamptz NOT NULL DEFAULT now(),
    updated             timestamptz NOT NULL DEFAULT now(),
    deleted             timestamptz,
    method              text        NOT NULL,
    provider            text        NOT NULL DEFAULT 'nile',
    payload             jsonb,
    provider_account_id text
);
CREATE UNIQUE INDEX IF NOT EXISTS credentials_one_live_per_method
    ON auth.credentials (user_id, method, provider) WHERE deleted IS NULL;
CREATE TABLE IF NOT EXISTS auth.sessions (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_token text        NOT NULL UNIQUE,
    user_id       uuid        NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL,
    created       timestamptz NOT NULL DEFAULT now(),
    updated       timestamptz NOT NULL DEFAULT now(),
    deleted       timestamptz
);
CREATE INDEX IF NOT EXISTS sessions_user ON auth.sessions (user_id);
";

/// The Rust halves of `auth.use_user_table`, `auth.use_nile_users` and
/// `auth.use_email_lookup` (sql/directory.sql: SQL can declare the
/// `regclass` and `name` argument types the public signature promises).
/// SECURITY INVOKER: they check the caller's own rights, then store the
/// configuration as the extension owner.
#[pg_schema]
pub mod nile_reset {
    use super::*;

    /// Points nile_reset at the application's own users table. `id_column` is
    /// a uuid, bigint, integer or text; `email_column` text-like (matched
    /// lower-cased: create an index on `lower(email)`); `password_column`
    /// receives the new hash in `password_format` (`bcrypt`,
    /// `django_pbkdf2_sha256`, `argon2id` or `django_argon2`); `disabled_column`, when given, is
    /// a boolean (true = disabled) or a timestamp (set = deleted);
    /// `locale_column`, when given, is text-like and picks the template
    /// locale of the user's emails; `user_filter`, when given, is a boolean
    /// expression over the table's columns that a user must pass to get or
    /// use a token; `on_password_reset`, when given, a function
    /// `(id <id column's type>) RETURNS void` a reset calls. The caller must
    /// own the table, or be a superuser.
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    #[allow(clippy::too_many_arguments)]
    fn configure_user_table(
        user_table: Option<pg_sys::Oid>,
        id_column: Option<&str>,
        email_column: Option<&str>,
        password_column: Option<&str>,
        password_format: Option<&str>,
        name_column: Option<&str>,
        disabled_column: Option<&str>,
        locale_column: Option<&str>,
        user_filter: Option<&str>,
        on_password_reset: Option<pg_sys::Oid>,
    ) {
        let table = required(user_table, "user_table");
        let id = required(id_column, "id_column");
        let email = required(email_column, "email_column");
        let password = required(password_column, "password_column");
        let format_name = required(password_format, "password_format");
        let format = match PasswordFormat::parse(format_name) {
            Some(PasswordFormat::Nile) => ArgError::Invalid(
                "password_format nile is Nile's credentials table: use auth.use_nile_users()"
                    .into(),
            )
            .raise(),
            Some(format) => format,
            None => ArgError::Invalid(
                "password_format must be bcrypt, django_pbkdf2_sha256, argon2id or django_argon2"
                    .into(),
            )
            .raise(),
        };
        if let Some(filter) = user_filter {
            crate::directory::filter::check(filter);
        }
        let (id_type, disabled, owner, users, hook) = Spi::connect(|client| {
            crate::citus::refuse_on_worker(client);
            let owner = check_table(client, table, "user_table");
            let id_type = id_type_of(&column_info(client, table, id, "id"), id);
            check_text(&column_info(client, table, email, "email"), "email", email);
            check_text(
                &column_info(client, table, password, "password"),
                "password",
                password,
            );
            if let Some(name) = name_column {
                check_text(&column_info(client, table, name, "name"), "name", name);
            }
            if let Some(locale) = locale_column {
                check_text(
                    &column_info(client, table, locale, "locale"),
                    "locale",
                    locale,
                );
            }
            let disabled = disabled_column.map(|col| {
                (
                    col,
                    disabled_type_of(&column_info(client, table, col, "disabled"), col),
                )
            });
            let hook = on_password_reset.map(|hook| check_hook(client, hook, table, id));
            (id_type, disabled, owner, quoted_name(table), hook)
        });
        if let Some(filter) = user_filter {
            plan_filter(&users, owner, filter);
        }
        store(Config {
            shape: Shape::Table,
            table,
            id,
            id_type,
            email,
            password: Some(password),
            format,
            name: name_column,
            locale: locale_column,
            disabled,
            credentials: None,
            sessions: None,
            filter: user_filter,
            hook,
        });
    }

    /// Names the application's email lookup table: `email_column` holds
    /// each user's lower-cased email (as `auth.normalize_identifier` gives
    /// it), `user_id_column` the user's id in the user table (same type).
    /// NULL as the table removes the lookup. The caller must own the lookup
    /// table, or be a superuser. `auth.use_user_table` and
    /// `auth.use_nile_users` remove it, so it is named after them.
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    fn configure_email_lookup(
        lookup_table: Option<pg_sys::Oid>,
        email_column: Option<&str>,
        user_id_column: Option<&str>,
    ) {
        Spi::connect(crate::citus::refuse_on_worker);
        let Some(table) = lookup_table else {
            write_lookup(None, None, None);
            return;
        };
        let email = required(email_column, "email_column");
        let id = required(user_id_column, "user_id_column");
        Spi::connect(|client| {
            let Some(row) = first_row(
                client
                    .select(
                        "SELECT id_type, user_table::pg_catalog.oid AS user_table
                           FROM nile_reset.user_directory",
                        None,
                        &[],
                    )
                    .unwrap_or_else(|e| crate::spi::spi_failed(e)),
            ) else {
                not_configured("nile_reset has no user directory configured");
            };
            if not_null::<pg_sys::Oid>(&row, "user_table") == table {
                ArgError::Invalid("lookup_table must not be the user table itself".into()).raise();
            }
            let directory_id_type: IdType = stored(&not_null::<String>(&row, "id_type"), "id_type");
            check_table(client, table, "lookup_table");
            check_text(
                &column_info_in(client, table, email, "lookup email", "lookup table"),
                "lookup email",
                email,
            );
            let id_type = id_type_of(
                &column_info_in(client, table, id, "lookup user id", "lookup table"),
                id,
            );
            if id_type != directory_id_type {
                wrong_type(
                    "lookup user id",
                    id,
                    id_type.as_str(),
                    directory_id_type.as_str(),
                );
            }
        });
        write_lookup(Some(table), Some(email), Some(id));
    }

    /// Selects Nile's shape: users in `users.users` (deleted = timestamp),
    /// passwords in `auth.credentials`, sessions in `auth.sessions` (ended by a
    /// reset). Adopts the tables that exist, creates the missing ones (owned by
    /// the caller).
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    fn configure_nile_users() {
        Spi::connect(crate::citus::refuse_on_worker);
        Spi::run(NILE_TABLES).unwrap_or_else(|e| crate::spi::spi_failed(e));
        let (users, credentials, sessions) = Spi::connect(|client| {
            let oid = |name: &str| -> Option<pg_sys::Oid> {
                client
                    .select(
                        "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
                        None,
                        &[name.into()],
                    )
                    .unwrap_or_else(|e| crate::spi::spi_failed(e))
                    .first()
                    .get_one::<pg_sys::Oid>()
                    .unwrap_or_else(|e| crate::spi::spi_failed(e))
            };
            let users = oid("users.users").unwrap_or_else(|| {
                crate::error::internal_error("users.users is missing after its creation")
            });
            let credentials = oid("auth.credentials").unwrap_or_else(|| {
                crate::error::internal_error("auth.credentials is missing after its creation")
            });
            let sessions = oid("auth.sessions");
            check_table(client, users, "users.users");
            check_table(client, credentials, "auth.credentials");
            id_type_of(&column_info(client, users, "id", "id"), "id");
            check_text(
                &column_info(client, users, "email", "email"),
                "email",
                "email",
            );
            disabled_type_of(
                &column_info(client, users, "deleted", "disabled"),
                "deleted",
            );
            for col in [
                "user_id", "method", "provider", "payload", "deleted", "updated",
            ] {
                column_info(client, credentials, col, "credentials");
            }
            let sessions = sessions.filter(|&table| {
                check_table(client, table, "auth.sessions");
                let user_id = column_info(client, table, "user_id", "sessions").type_name;
                if user_id != "uuid" {
                    // Not Nile's table: resets will not end its sessions, so say so
                    // rather than leave the caller to assume they do.
                    crate::error::warn_with_hint(
                        format!(
                            "auth.sessions is not adopted: its user_id is {user_id}, not uuid, \
                             so resets will not end its sessions"
                        ),
                        "Give auth.sessions a uuid user_id and run auth.use_nile_users() again.",
                    );
                }
                user_id == "uuid"
            });
            (users, credentials, sessions)
        });
        store(Config {
            shape: Shape::Nile,
            table: users,
            id: "id",
            id_type: IdType::Uuid,
            email: "email",
            password: None,
            format: PasswordFormat::Nile,
            name: Some("name"),
            locale: None,
            disabled: Some(("deleted", DisabledType::Timestamp)),
            credentials: Some(credentials),
            sessions,
            filter: None,
            hook: None,
        });
    }
}
