//! The user directory: which table holds the application's users, as
//! `nile_reset.user_directory` stores it, and `load`, which reads it back
//! and resolves it against the catalog for one call.
//!
//! - `configure`  `auth.use_user_table`, `auth.use_nile_users` and
//!   `auth.use_email_lookup`, the only writers of the configuration, and
//!   Nile's tables.
//! - `catalog`    their checks of every configured name against the catalog.
//! - `statements` the statements that find a user and set a password, built
//!   from `quote_ident`ed catalog names, kept like static ones (keyed by
//!   their text), and run as the owner of the table they touch (see
//!   `spi::as_role`).
//! - `filter`     the check that a `user_filter` is one boolean expression.
//! - `hook`       the call of the `on_password_reset` function.

mod catalog;
mod configure;
mod filter;
mod hook;
mod resolve;
mod statements;

use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::password::PasswordFormat;
use crate::spi::{column, first_row, not_null, query, Statement};

/// 55000: nothing is configured yet, or the configured table is gone.
fn not_configured(message: &str) -> ! {
    crate::error::raise_with_hint(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        message.to_owned(),
        "Point nile_reset at your users: SELECT auth.use_user_table(...) or SELECT auth.use_nile_users().",
    )
}

/// A value `nile_reset.user_directory` stores as one of a few fixed
/// spellings; the table's CHECK constraints list the same ones.
trait Spelled: Copy + 'static {
    const ALL: &'static [Self];

    fn as_str(self) -> &'static str;

    fn parse(spelling: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == spelling)
    }
}

/// A spelling read back from `nile_reset.user_directory`: only `configure`
/// writes it and the table's CHECKs refuse any other, so an unknown one is
/// a fault, XX000, never taken for some default.
fn stored<T: Spelled>(spelling: &str, column: &str) -> T {
    T::parse(spelling).unwrap_or_else(|| {
        crate::error::internal_error(&format!(
            "nile_reset.user_directory holds an unknown {column}"
        ))
    })
}

/// Where the users and their passwords are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// The application's own table, the hash in its password column.
    Table,
    /// Nile's tables: the hash inside a row of `auth.credentials`, and a
    /// reset ends the user's sessions.
    Nile,
}

impl Spelled for Shape {
    const ALL: &'static [Shape] = &[Shape::Table, Shape::Nile];

    fn as_str(self) -> &'static str {
        match self {
            Shape::Table => "table",
            Shape::Nile => "nile",
        }
    }
}

/// The type of the user table's id column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdType {
    Uuid,
    Bigint,
    Integer,
    Text,
}

impl Spelled for IdType {
    const ALL: &'static [IdType] = &[IdType::Uuid, IdType::Bigint, IdType::Integer, IdType::Text];

    fn as_str(self) -> &'static str {
        match self {
            IdType::Uuid => "uuid",
            IdType::Bigint => "bigint",
            IdType::Integer => "integer",
            IdType::Text => "text",
        }
    }
}

impl IdType {
    /// The type a statement casts a text id to.
    fn cast(self) -> &'static str {
        match self {
            IdType::Uuid => "pg_catalog.uuid",
            IdType::Bigint => "pg_catalog.int8",
            IdType::Integer => "pg_catalog.int4",
            IdType::Text => "pg_catalog.text",
        }
    }
}

/// What the disabled column holds, which decides how a live user reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DisabledType {
    /// true = disabled; NULL counts as false.
    Boolean,
    /// set = deleted (a timestamp or a date).
    Timestamp,
}

impl Spelled for DisabledType {
    const ALL: &'static [DisabledType] = &[DisabledType::Boolean, DisabledType::Timestamp];

    fn as_str(self) -> &'static str {
        match self {
            DisabledType::Boolean => "boolean",
            DisabledType::Timestamp => "timestamp",
        }
    }
}

/// A table the statements touch, by quoted name, and its owner.
struct Relation {
    name: String,
    owner: pg_sys::Oid,
}

/// The configuration, resolved against the catalog for this call. Column
/// names are quoted.
pub struct Directory {
    shape: Shape,
    users: Relation,
    id: String,
    id_type: IdType,
    email: String,
    name: Option<String>,
    locale: Option<String>,
    password: Option<String>,
    pub format: PasswordFormat,
    disabled: Option<(String, DisabledType)>,
    credentials: Option<Relation>,
    sessions: Option<Relation>,
    lookup: Option<Lookup>,
    /// The application's rule of who may reset (`user_filter`), checked by
    /// `filter::check` when configured; evaluated with the table as `u`.
    filter: Option<String>,
    /// The application's `on_password_reset` function.
    hook: Option<Hook>,
    /// `by_email_sql`'s text, built on first use: every request runs it, and
    /// the directory itself is cached per backend.
    by_email: std::cell::OnceCell<String>,
}

/// The `on_password_reset` function: `(id <type>) RETURNS void`.
struct Hook {
    /// Its schema-qualified, quoted name.
    name: String,
    /// Its argument's type, as a cast names it.
    arg_type: String,
    /// Its signature as `regprocedure` spells it, for messages.
    signature: String,
}

/// The app's email-keyed lookup table (`auth.use_email_lookup`): lower-cased
/// email to user id, so that finding a user by email reads one row (one
/// shard on Citus) instead of searching the users table by `lower(email)`.
struct Lookup {
    table: Relation,
    email: String,
    id: String,
}

/// A user as the directory knows them; the id is text whatever its type.
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    /// The user's locale for emails, when the directory has a locale column.
    pub locale: Option<String>,
    /// The hash the application stores now (the users table's password
    /// column; None for Nile's shape): a reset writes the new one in its
    /// scheme and at least its strength.
    pub password_hash: Option<String>,
}

/// The configuration, with the OIDs of the tables and the function it names
/// (`resolve` turns them into names and owners). The columns added in 0.3.0
/// are read through `to_jsonb(d)`, which yields NULL for a column that is not
/// there yet: a database still on 0.2.0's tables between a package upgrade
/// and `ALTER EXTENSION nile_reset UPDATE` keeps issuing and using tokens as
/// before.
const LOAD: Statement = Statement {
    sql: "SELECT d.shape, d.id_type, d.password_format, d.disabled_type,
                 d.user_table::pg_catalog.oid AS users_oid,
                 d.credentials_table::pg_catalog.oid AS credentials_oid,
                 d.sessions_table::pg_catalog.oid AS sessions_oid,
                 d.lookup_table::pg_catalog.oid AS lookup_oid,
                 pg_catalog.quote_ident(d.id_column) AS id_column,
                 pg_catalog.quote_ident(d.email_column) AS email_column,
                 pg_catalog.quote_ident(d.password_column) AS password_column,
                 pg_catalog.quote_ident(d.name_column) AS name_column,
                 pg_catalog.quote_ident(d.locale_column) AS locale_column,
                 pg_catalog.quote_ident(d.disabled_column) AS disabled_column,
                 pg_catalog.quote_ident(d.lookup_email_column) AS lookup_email_column,
                 pg_catalog.quote_ident(d.lookup_id_column) AS lookup_id_column,
                 pg_catalog.to_jsonb(d) ->> 'user_filter' AS user_filter,
                 pg_catalog.to_jsonb(d) ->> 'on_password_reset' IS NOT NULL AS wants_hook,
                 pg_catalog.to_regprocedure(pg_catalog.to_jsonb(d) ->> 'on_password_reset')::pg_catalog.oid
                     AS hook_oid
            FROM nile_reset.user_directory d",
    args: &[],
};

thread_local! {
    static CURRENT: crate::cache::Slot<Rc<Directory>> = const { crate::cache::Slot::new() };
}

/// The configuration, from the backend's cache (src/cache.rs) while nothing
/// it names has changed; raises 55000 when there is none or its table no
/// longer exists, XX000 when it holds a spelling nothing writes.
pub fn load(client: &SpiClient<'_>) -> Rc<Directory> {
    // A Citus worker may hold a configuration (an upgrade from 0.1.0
    // writes one on every node) but none of the state: refuse there first.
    crate::citus::refuse_on_worker(client);
    CURRENT.with(|current| current.get(|| Rc::new(read(client))))
}

/// Reads the configuration and watches every table it names.
fn read(client: &SpiClient<'_>) -> Directory {
    crate::cache::watch_own_table(c"user_directory");
    let Some(row) = first_row(query(client, &LOAD, &[])) else {
        not_configured("nile_reset has no user directory configured");
    };
    // A configured table (None: none is configured), watched so that a
    // rename, a drop or a new owner moves the cache on (src/cache.rs); one
    // that no longer exists is refused: for the sessions table too, since a
    // reset that could not end the sessions it promises to end must not
    // happen (a migration that drops and recreates `auth.sessions` leaves the
    // configured one gone).
    let configured = |oid_column: &str, what: &str| {
        let oid = column::<pg_sys::Oid>(&row, oid_column)?;
        let Some((name, owner)) = resolve::relation(oid) else {
            not_configured(&format!(
                "the {what} configured for nile_reset no longer exists"
            ));
        };
        crate::cache::watch(oid);
        Some(Relation { name, owner })
    };
    let text = |name: &str| column::<String>(&row, name);
    let Some(users) = configured("users_oid", "user table") else {
        not_configured("the user table configured for nile_reset no longer exists");
    };
    let credentials = configured("credentials_oid", "credentials table");
    let sessions = configured("sessions_oid", "sessions table");
    let lookup = configured("lookup_oid", "email lookup table").map(|table| Lookup {
        table,
        email: not_null(&row, "lookup_email_column"),
        id: not_null(&row, "lookup_id_column"),
    });
    let hook = column::<pg_sys::Oid>(&row, "hook_oid")
        .and_then(resolve::function)
        .map(|(name, arg_type, signature)| Hook {
            name,
            arg_type: arg_type.unwrap_or_else(|| {
                crate::error::internal_error(
                    "nile_reset: the on_password_reset function takes no argument",
                )
            }),
            signature,
        });
    if not_null::<bool>(&row, "wants_hook") && hook.is_none() {
        not_configured("the on_password_reset function configured for nile_reset no longer exists");
    }
    let format_name: String = not_null(&row, "password_format");
    let format = PasswordFormat::parse(&format_name).unwrap_or_else(|| {
        crate::error::internal_error("nile_reset.user_directory holds an unknown password_format")
    });
    let disabled = match (text("disabled_column"), text("disabled_type")) {
        (None, None) => None,
        (Some(col), Some(kind)) => Some((col, stored(&kind, "disabled_type"))),
        _ => crate::error::internal_error(
            "nile_reset.user_directory holds only one of disabled_column and disabled_type",
        ),
    };
    Directory {
        shape: stored(&not_null::<String>(&row, "shape"), "shape"),
        users,
        id: not_null(&row, "id_column"),
        id_type: stored(&not_null::<String>(&row, "id_type"), "id_type"),
        email: not_null(&row, "email_column"),
        name: text("name_column"),
        locale: text("locale_column"),
        password: text("password_column"),
        format,
        disabled,
        credentials,
        sessions,
        lookup,
        filter: text("user_filter"),
        hook,
        by_email: Default::default(),
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[cfg(test)]
    fn round_trips<T: super::Spelled + std::fmt::Debug + PartialEq>(spellings: &[&str]) {
        let spelled: Vec<&str> = T::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(spelled, spellings);
        for &value in T::ALL {
            assert_eq!(T::parse(value.as_str()), Some(value));
        }
    }

    #[cfg(test)]
    fn refuses<T: super::Spelled + std::fmt::Debug + PartialEq>() {
        for spelling in [
            "", "other", " table", "Table", "BOOLEAN", "uuid ", "int8", "varchar",
        ] {
            assert_eq!(T::parse(spelling), None, "{spelling:?}");
        }
    }

    /// The spellings are the ones sql/schema.sql's CHECKs allow.
    #[test]
    fn spellings_round_trip() {
        round_trips::<super::Shape>(&["table", "nile"]);
        round_trips::<super::IdType>(&["uuid", "bigint", "integer", "text"]);
        round_trips::<super::DisabledType>(&["boolean", "timestamp"]);
    }

    #[test]
    fn unknown_spellings_are_refused() {
        refuses::<super::Shape>();
        refuses::<super::IdType>();
        refuses::<super::DisabledType>();
    }

    /// Writes a configuration changed by `set`, past the CHECKs that keep
    /// such values out, then has `load` read it; the SQLSTATE is put in
    /// front of the message so that the expected error names it.
    fn load_with(set: &str) {
        // Dropping the constraints locks the table before this test holds
        // any other lock or row, so a concurrent test may wait for it but
        // never deadlock with it.
        Spi::run(
            "DO $$
             DECLARE c name;
             BEGIN
                 FOR c IN SELECT conname FROM pg_catalog.pg_constraint
                           WHERE conrelid = 'nile_reset.user_directory'::pg_catalog.regclass
                             AND contype = 'c'
                 LOOP
                     EXECUTE pg_catalog.format('ALTER TABLE nile_reset.user_directory DROP CONSTRAINT %I', c);
                 END LOOP;
             END $$",
        )
        .unwrap();
        Spi::run(
            "DELETE FROM nile_reset.user_directory;
             INSERT INTO nile_reset.user_directory
                 (shape, user_table, id_column, id_type, email_column, password_column,
                  password_format, disabled_column, disabled_type)
             VALUES ('table', 'pg_catalog.pg_class', 'oid', 'integer', 'relname', 'relname',
                     'bcrypt', 'relname', 'boolean')",
        )
        .unwrap();
        Spi::run(&format!("UPDATE nile_reset.user_directory SET {set}")).unwrap();
        Spi::run(
            "DO $$
             BEGIN
                 PERFORM * FROM auth.verify_password_token('a@example.com', 'x');
             EXCEPTION WHEN OTHERS THEN
                 RAISE EXCEPTION '% %', SQLSTATE, SQLERRM;
             END $$",
        )
        .unwrap();
    }

    #[pg_test(error = "XX000 nile_reset.user_directory holds an unknown shape")]
    fn unknown_stored_shape_is_an_internal_error() {
        load_with("shape = 'tabel'");
    }

    #[pg_test(error = "XX000 nile_reset.user_directory holds an unknown disabled_type")]
    fn unknown_stored_disabled_type_is_an_internal_error() {
        load_with("disabled_type = 'date'");
    }

    #[pg_test(error = "XX000 nile_reset.user_directory holds an unknown id_type")]
    fn unknown_stored_id_type_is_an_internal_error() {
        load_with("id_type = 'int8'");
    }

    #[pg_test(
        error = "XX000 nile_reset.user_directory holds only one of disabled_column and disabled_type"
    )]
    fn disabled_type_without_its_column_is_an_internal_error() {
        load_with("disabled_column = NULL");
    }
}
