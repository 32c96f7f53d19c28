//! The user directory: which table holds the application's users, and the
//! statements that find a user and set a password there.
//!
//! The configuration (`nile_reset.user_directory`) is written only by
//! `auth.use_user_table` and `auth.use_nile_users`, which check every name
//! against the catalog. The statements are built from `quote_ident`ed
//! catalog names, kept like static ones (keyed by their text), and run as
//! the owner of the table they touch (see `spi::as_role`).

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::{required, ArgError};
use crate::password::PasswordFormat;
use crate::spi::{as_role, column, execute, execute_text, first_row, not_null, Statement};

/// 55000: nothing is configured yet, or the configured table is gone.
fn not_configured(message: &str) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        message.to_owned(),
        "Point nile_reset at your users: SELECT auth.use_user_table(...) or SELECT auth.use_nile_users()."
    );
}

fn raise(code: PgSqlErrorCode, message: String) -> ! {
    ereport!(ERROR, code, message);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Table,
    Nile,
}

/// A table the statements touch, by quoted name, and its owner.
struct Relation {
    name: String,
    owner: pg_sys::Oid,
}

/// The configuration, resolved against the catalog for this call.
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
    live: String,
    credentials: Option<Relation>,
    sessions: Option<Relation>,
    lookup: Option<Lookup>,
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
}

const LOAD: Statement = Statement {
    sql: "SELECT d.shape, d.id_type, d.password_format, d.disabled_type,
                 c.relowner AS users_owner,
                 pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS users,
                 pg_catalog.quote_ident(d.id_column) AS id_column,
                 pg_catalog.quote_ident(d.email_column) AS email_column,
                 pg_catalog.quote_ident(d.password_column) AS password_column,
                 pg_catalog.quote_ident(d.name_column) AS name_column,
                 pg_catalog.quote_ident(d.locale_column) AS locale_column,
                 pg_catalog.quote_ident(d.disabled_column) AS disabled_column,
                 d.credentials_table IS NOT NULL AS wants_credentials,
                 cc.relowner AS credentials_owner,
                 pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(cc.relname) AS credentials,
                 sc.relowner AS sessions_owner,
                 pg_catalog.quote_ident(sn.nspname) || '.' || pg_catalog.quote_ident(sc.relname) AS sessions,
                 d.lookup_table IS NOT NULL AS wants_lookup,
                 lc.relowner AS lookup_owner,
                 pg_catalog.quote_ident(ln.nspname) || '.' || pg_catalog.quote_ident(lc.relname) AS lookup,
                 pg_catalog.quote_ident(d.lookup_email_column) AS lookup_email_column,
                 pg_catalog.quote_ident(d.lookup_id_column) AS lookup_id_column
            FROM nile_reset.user_directory d
            LEFT JOIN pg_catalog.pg_class c ON c.oid = d.user_table
            LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_catalog.pg_class cc ON cc.oid = d.credentials_table
            LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace
            LEFT JOIN pg_catalog.pg_class sc ON sc.oid = d.sessions_table
            LEFT JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace
            LEFT JOIN pg_catalog.pg_class lc ON lc.oid = d.lookup_table
            LEFT JOIN pg_catalog.pg_namespace ln ON ln.oid = lc.relnamespace",
    args: &[],
};

/// The type of the user table's id column, as `nile_reset.user_directory.id_type` spells it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IdType {
    Uuid,
    Bigint,
    Integer,
    Text,
}

impl IdType {
    fn parse(name: &str) -> Option<IdType> {
        Some(match name {
            "uuid" => IdType::Uuid,
            "bigint" => IdType::Bigint,
            "integer" => IdType::Integer,
            "text" => IdType::Text,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            IdType::Uuid => "uuid",
            IdType::Bigint => "bigint",
            IdType::Integer => "integer",
            IdType::Text => "text",
        }
    }

    fn cast(self) -> &'static str {
        match self {
            IdType::Uuid => "pg_catalog.uuid",
            IdType::Bigint => "pg_catalog.int8",
            IdType::Integer => "pg_catalog.int4",
            IdType::Text => "pg_catalog.text",
        }
    }
}

fn stored_id_type(name: &str) -> IdType {
    IdType::parse(name).unwrap_or_else(|| {
        crate::error::internal_error("nile_reset.user_directory holds an unknown id_type")
    })
}

/// Reads the configuration; raises 55000 when there is none or its table
/// no longer exists.
pub fn load(client: &mut SpiClient<'_>) -> Directory {
    // A Citus worker may hold a configuration (an upgrade from 0.1.0
    // writes one on every node) but none of the state: refuse there first.
    crate::citus::refuse_on_worker(client);
    let Some(row) = first_row(execute(client, &LOAD, &[])) else {
        not_configured("nile_reset has no user directory configured");
    };
    let text = |name: &str| column::<String>(&row, name);
    let Some(users) = text("users") else {
        not_configured("the user table configured for nile_reset no longer exists");
    };
    let relation = |name_col: &str, owner_col: &str| {
        column::<String>(&row, name_col).map(|name| Relation {
            name,
            owner: not_null::<pg_sys::Oid>(&row, owner_col),
        })
    };
    let credentials = relation("credentials", "credentials_owner");
    if not_null::<bool>(&row, "wants_credentials") && credentials.is_none() {
        not_configured("the credentials table configured for nile_reset no longer exists");
    }
    let lookup = relation("lookup", "lookup_owner").map(|table| Lookup {
        table,
        email: not_null(&row, "lookup_email_column"),
        id: not_null(&row, "lookup_id_column"),
    });
    if not_null::<bool>(&row, "wants_lookup") && lookup.is_none() {
        not_configured("the email lookup table configured for nile_reset no longer exists");
    }
    let format_name: String = not_null(&row, "password_format");
    let format = PasswordFormat::parse(&format_name).unwrap_or_else(|| {
        crate::error::internal_error("nile_reset.user_directory holds an unknown password_format")
    });
    let disabled = text("disabled_column");
    let live = match (disabled, text("disabled_type").as_deref()) {
        (None, _) => "true".to_owned(),
        (Some(col), Some("boolean")) => format!("NOT pg_catalog.coalesce(u.{col}, false)"),
        (Some(col), _) => format!("u.{col} IS NULL"),
    };
    let shape: String = not_null(&row, "shape");
    let id_type: String = not_null(&row, "id_type");
    Directory {
        shape: if shape == "nile" {
            Shape::Nile
        } else {
            Shape::Table
        },
        users: Relation {
            name: users,
            owner: not_null(&row, "users_owner"),
        },
        id: not_null(&row, "id_column"),
        id_type: stored_id_type(&id_type),
        email: not_null(&row, "email_column"),
        name: text("name_column"),
        locale: text("locale_column"),
        password: text("password_column"),
        format,
        live,
        credentials,
        sessions: relation("sessions", "sessions_owner"),
        lookup,
    }
}

fn user_from(row: &pgrx::spi::SpiHeapTupleData<'_>) -> User {
    User {
        id: not_null(row, "id"),
        email: not_null(row, "email"),
        name: column(row, "name"),
        locale: column(row, "locale"),
    }
}

impl Directory {
    fn select_list(&self) -> String {
        let name = match &self.name {
            Some(col) => format!("u.{col}::pg_catalog.text"),
            None => "NULL::pg_catalog.text".to_owned(),
        };
        let locale = match &self.locale {
            Some(col) => format!("u.{col}::pg_catalog.text"),
            None => "NULL::pg_catalog.text".to_owned(),
        };
        format!(
            "u.{id}::pg_catalog.text AS id, u.{email}::pg_catalog.text AS email, {name} AS name, \
             {locale} AS locale",
            id = self.id,
            email = self.email
        )
    }

    /// The live user whose lower-cased email is `identifier` (normalized by
    /// `email::normalize`). None when there is none, and also when several
    /// live users share the address: a token could not say whose password
    /// it resets, so nobody gets one.
    ///
    /// With an email lookup table, the candidates' ids come from it and each
    /// is confirmed in the users table by id (a stale lookup row can point
    /// nowhere else than at a user who has this email); without one, the
    /// users table is searched by `lower(email)` (an index on it serves).
    pub fn find_by_email(&self, client: &mut SpiClient<'_>, identifier: &str) -> Option<User> {
        if let Some(lookup) = &self.lookup {
            let ids = self.lookup_ids(client, lookup, identifier);
            let mut found = None;
            for id in ids {
                if let Some(user) = self.find_holder(client, &id, identifier) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(user);
                }
            }
            return found;
        }
        let sql = format!(
            "SELECT {list} FROM {users} u
              WHERE pg_catalog.lower(u.{email}::pg_catalog.text) = $1 AND {live}
              LIMIT 2",
            list = self.select_list(),
            users = self.users.name,
            email = self.email,
            live = self.live
        );
        as_role(self.users.owner, || {
            let table = execute_text(
                client,
                &sql,
                &[PgBuiltInOids::TEXTOID],
                &[identifier.into()],
            );
            if table.len() != 1 {
                return None;
            }
            first_row(table).map(|row| user_from(&row))
        })
    }

    /// Up to two user ids the lookup table files under `identifier`. The
    /// key column is compared as it is, so that Citus routes the query to
    /// the one shard that holds the key.
    fn lookup_ids(
        &self,
        client: &mut SpiClient<'_>,
        lookup: &Lookup,
        identifier: &str,
    ) -> Vec<String> {
        let sql = format!(
            "SELECT l.{id}::pg_catalog.text AS id FROM {table} l WHERE l.{email} = $1 LIMIT 2",
            id = lookup.id,
            table = lookup.table.name,
            email = lookup.email
        );
        as_role(lookup.table.owner, || {
            execute_text(
                client,
                &sql,
                &[PgBuiltInOids::TEXTOID],
                &[identifier.into()],
            )
            .filter_map(|row| column::<String>(&row, "id"))
            .collect()
        })
    }

    /// The id as the statements' first parameter: of the id column's own
    /// type where it is an integer or text, so that the comparison is
    /// `id = $1` (which Citus routes to one shard from a kept plan);
    /// otherwise text cast in the statement.
    fn id_param<'a>(&self, id: &'a str) -> (String, PgBuiltInOids, DatumWithOid<'a>) {
        match self.id_type {
            IdType::Bigint => {
                if let Ok(value) = id.parse::<i64>() {
                    return ("$1".into(), PgBuiltInOids::INT8OID, value.into());
                }
            }
            IdType::Integer => {
                if let Ok(value) = id.parse::<i32>() {
                    return ("$1".into(), PgBuiltInOids::INT4OID, value.into());
                }
            }
            IdType::Text => return ("$1".into(), PgBuiltInOids::TEXTOID, id.into()),
            IdType::Uuid => {}
        }
        (
            format!("CAST($1 AS {})", self.id_type.cast()),
            PgBuiltInOids::TEXTOID,
            id.into(),
        )
    }

    /// The user a token was issued to, if that id is still live and still
    /// has the token's identifier (lower-cased email) as its email.
    pub fn find_holder(
        &self,
        client: &mut SpiClient<'_>,
        user_id: &str,
        identifier: &str,
    ) -> Option<User> {
        let (placeholder, id_oid, id_arg) = self.id_param(user_id);
        let sql = format!(
            "SELECT {list} FROM {users} u
              WHERE u.{id} = {placeholder}
                AND pg_catalog.lower(u.{email}::pg_catalog.text) = $2 AND {live}",
            list = self.select_list(),
            users = self.users.name,
            id = self.id,
            email = self.email,
            live = self.live
        );
        as_role(self.users.owner, || {
            let table = execute_text(
                client,
                &sql,
                &[id_oid, PgBuiltInOids::TEXTOID],
                &[id_arg, identifier.into()],
            );
            first_row(table).map(|row| user_from(&row))
        })
    }

    /// Writes the new password hash where the application reads it, and,
    /// for Nile's shape, ends the user's sessions. Returns whether a row
    /// was written.
    pub fn set_password(&self, client: &mut SpiClient<'_>, user: &User, stored: &str) -> bool {
        match self.shape {
            Shape::Table => {
                let password = self.password.as_deref().unwrap_or_else(|| {
                    crate::error::internal_error("user directory without a password column")
                });
                let (placeholder, id_oid, id_arg) = self.id_param(&user.id);
                let sql = format!(
                    "UPDATE {users} u SET {password} = $2 WHERE u.{id} = {placeholder}",
                    users = self.users.name,
                    id = self.id,
                );
                as_role(self.users.owner, || {
                    execute_text(
                        client,
                        &sql,
                        &[id_oid, PgBuiltInOids::TEXTOID],
                        &[id_arg, stored.into()],
                    )
                    .len()
                        == 1
                })
            }
            Shape::Nile => self.set_nile_credential(client, user, stored),
        }
    }

    /// Nile's login reads `auth.credentials`: one live EMAIL_PASSWORD row
    /// per user, its payload `{"crypt": "crypt-bf/<cost>", "hash", "email"}`.
    fn set_nile_credential(&self, client: &mut SpiClient<'_>, user: &User, payload: &str) -> bool {
        let Some(credentials) = &self.credentials else {
            crate::error::internal_error("Nile directory without a credentials table");
        };
        // Update, else insert: adopted Nile tables need not carry the
        // unique index an ON CONFLICT would infer. The token's row lock
        // serializes resets of one user.
        // The time is a parameter: Citus refuses some functions in
        // statements on distributed tables, so they name none.
        let update = format!(
            "UPDATE {table} c SET payload = $2::pg_catalog.jsonb, updated = $3
              WHERE c.user_id = CAST($1 AS pg_catalog.uuid) AND c.method = 'EMAIL_PASSWORD'
                AND c.provider = 'nile' AND c.deleted IS NULL",
            table = credentials.name
        );
        let insert = format!(
            "INSERT INTO {table} (user_id, method, provider, payload)
             VALUES (CAST($1 AS pg_catalog.uuid), 'EMAIL_PASSWORD', 'nile', $2::pg_catalog.jsonb)",
            table = credentials.name
        );
        let types = [PgBuiltInOids::TEXTOID, PgBuiltInOids::TEXTOID];
        let update_types = [
            PgBuiltInOids::TEXTOID,
            PgBuiltInOids::TEXTOID,
            PgBuiltInOids::TIMESTAMPTZOID,
        ];
        let now = pgrx::datum::transaction_timestamp();
        let written = as_role(credentials.owner, || {
            let args = [user.id.as_str().into(), payload.into(), now.into()];
            if execute_text(client, &update, &update_types, &args).is_empty() {
                let args = [user.id.as_str().into(), payload.into()];
                execute_text(client, &insert, &types, &args);
            }
            true
        });
        if let Some(sessions) = &self.sessions {
            let delete = format!(
                "DELETE FROM {table} s WHERE s.user_id = CAST($1 AS pg_catalog.uuid)",
                table = sessions.name
            );
            as_role(sessions.owner, || {
                execute_text(
                    client,
                    &delete,
                    &[PgBuiltInOids::TEXTOID],
                    &[user.id.as_str().into()],
                );
            });
        }
        written
    }
}

/// A column of the user table, as the catalog describes it.
struct ColumnInfo {
    type_name: String,
    category: String,
}

fn column_info(client: &SpiClient<'_>, table: pg_sys::Oid, name: &str, role: &str) -> ColumnInfo {
    column_info_in(client, table, name, role, "user table")
}

/// `column_info`, saying `where_` (e.g. "lookup table") when the column is missing.
fn column_info_in(
    client: &SpiClient<'_>,
    table: pg_sys::Oid,
    name: &str,
    role: &str,
    where_: &str,
) -> ColumnInfo {
    let row = client
        .select(
            "SELECT pg_catalog.format_type(t.oid, NULL) AS type_name,
                    t.typcategory::pg_catalog.text AS category
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_type declared ON declared.oid = a.atttypid
               JOIN pg_catalog.pg_type t
                 ON t.oid = CASE WHEN declared.typtype = 'd' THEN declared.typbasetype ELSE declared.oid END
              WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            None,
            &[table.into(), name.into()],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    let Some(row) = first_row(row) else {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("{role} column \"{name}\" does not exist in the {where_}"),
        );
    };
    ColumnInfo {
        type_name: not_null(&row, "type_name"),
        category: not_null(&row, "category"),
    }
}

fn wrong_type(role: &str, name: &str, found: &str, wanted: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
        format!("{role} column \"{name}\" has type {found}; it must be {wanted}"),
    );
}

/// The table, checked: an ordinary (or partitioned) permanent table outside
/// the system schemas, that the caller owns (or the caller is a superuser):
/// the directory decides whose password a reset writes, so nobody may point
/// it at a table they could not write themselves.
fn check_table(client: &SpiClient<'_>, table: pg_sys::Oid, what: &str) -> pg_sys::Oid {
    let row = client
        .select(
            "SELECT c.relkind::pg_catalog.text AS relkind, c.relpersistence::pg_catalog.text AS persistence,
                    n.nspname::pg_catalog.text AS schema, c.relowner AS owner,
                    pg_catalog.pg_has_role(c.relowner, 'USAGE') AS caller_owns
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.oid = $1",
            None,
            &[table.into()],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    let Some(row) = first_row(row) else {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            format!("{what} does not exist"),
        );
    };
    let relkind: String = not_null(&row, "relkind");
    let persistence: String = not_null(&row, "persistence");
    let schema: String = not_null(&row, "schema");
    if !matches!(relkind.as_str(), "r" | "p") || persistence == "t" {
        raise(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{what} must be a permanent table"),
        );
    }
    if matches!(
        schema.as_str(),
        "pg_catalog" | "information_schema" | "pg_toast" | "nile_reset"
    ) {
        raise(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{what} must not be in schema {schema}"),
        );
    }
    // SAFETY: a plain lookup of the current user's rights.
    if !unsafe { pg_sys::superuser() } && !not_null::<bool>(&row, "caller_owns") {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("only the owner of {what} (or a superuser) may use it for the user directory"),
        );
    }
    not_null(&row, "owner")
}

/// The stored configuration, written as the extension's owner: the caller
/// may configure only through these checks, never write the table itself.
struct Config<'a> {
    shape: &'a str,
    table: pg_sys::Oid,
    id: &'a str,
    id_type: IdType,
    email: &'a str,
    password: Option<&'a str>,
    format: PasswordFormat,
    name: Option<&'a str>,
    locale: Option<&'a str>,
    disabled: Option<(&'a str, &'a str)>,
    credentials: Option<pg_sys::Oid>,
    sessions: Option<pg_sys::Oid>,
}

fn extension_owner() -> pg_sys::Oid {
    Spi::get_one::<pg_sys::Oid>(
        "SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'nile_reset'",
    )
    .unwrap_or_else(|e| crate::spi::spi_failed(e))
    .unwrap_or_else(|| crate::error::internal_error("schema nile_reset is missing"))
}

fn store(config: Config<'_>) {
    let owner = extension_owner();
    as_role(owner, || {
        Spi::run_with_args(
            "INSERT INTO nile_reset.user_directory AS d
                 (singleton, shape, user_table, id_column, id_type, email_column, password_column,
                  password_format, name_column, disabled_column, disabled_type,
                  credentials_table, sessions_table, configured, locale_column)
             VALUES (true, $1, $2::pg_catalog.oid::pg_catalog.regclass, $3, $4, $5, $6, $7, $8, $9, $10,
                     $11::pg_catalog.oid::pg_catalog.regclass, $12::pg_catalog.oid::pg_catalog.regclass,
                     pg_catalog.now(), $13)
             ON CONFLICT (singleton) DO UPDATE SET
                 shape = excluded.shape, user_table = excluded.user_table,
                 id_column = excluded.id_column, id_type = excluded.id_type,
                 email_column = excluded.email_column, password_column = excluded.password_column,
                 password_format = excluded.password_format, name_column = excluded.name_column,
                 disabled_column = excluded.disabled_column, disabled_type = excluded.disabled_type,
                 credentials_table = excluded.credentials_table,
                 sessions_table = excluded.sessions_table, configured = excluded.configured,
                 locale_column = excluded.locale_column,
                 lookup_table = NULL, lookup_email_column = NULL, lookup_id_column = NULL",
            &[
                config.shape.into(),
                config.table.into(),
                config.id.into(),
                config.id_type.name().into(),
                config.email.into(),
                config.password.into(),
                config.format.as_str().into(),
                config.name.into(),
                config.disabled.map(|(c, _)| c).into(),
                config.disabled.map(|(_, t)| t).into(),
                config.credentials.into(),
                config.sessions.into(),
                config.locale.into(),
            ],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    });
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

fn id_type_of(info: &ColumnInfo, name: &str) -> IdType {
    match info.type_name.as_str() {
        "uuid" => IdType::Uuid,
        "bigint" => IdType::Bigint,
        "integer" => IdType::Integer,
        "text" | "character varying" => IdType::Text,
        other => wrong_type("id", name, other, "uuid, bigint, integer or text"),
    }
}

fn check_text(info: &ColumnInfo, role: &str, name: &str) {
    if info.category != "S" {
        wrong_type(role, name, &info.type_name, "text, varchar or citext");
    }
}

fn disabled_type_of(info: &ColumnInfo, name: &str) -> &'static str {
    match info.type_name.as_str() {
        "boolean" => "boolean",
        "timestamp with time zone" | "timestamp without time zone" | "date" => "timestamp",
        other => wrong_type(
            "disabled",
            name,
            other,
            "boolean (true = disabled) or a timestamp (set = deleted)",
        ),
    }
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

/// The Rust halves of `auth.use_user_table` and `auth.use_nile_users`
/// (sql/directory.sql: SQL can declare the `regclass` and `name` argument
/// types the public signature promises). SECURITY INVOKER: they check the
/// caller's own rights, then store the configuration as the extension owner.
#[pg_schema]
pub mod nile_reset {
    use super::*;

    /// Points nile_reset at the application's own users table. `id_column` is
    /// a uuid, bigint, integer or text; `email_column` text-like (matched
    /// lower-cased: create an index on `lower(email)`); `password_column`
    /// receives the new hash in `password_format` (`bcrypt`,
    /// `django_pbkdf2_sha256` or `argon2id`); `disabled_column`, when given, is
    /// a boolean (true = disabled) or a timestamp (set = deleted);
    /// `locale_column`, when given, is text-like and picks the template
    /// locale of the user's emails. The caller must own the table, or be a
    /// superuser.
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
                "password_format must be bcrypt, django_pbkdf2_sha256 or argon2id".into(),
            )
            .raise(),
        };
        let (id_type, disabled) = Spi::connect(|client| {
            crate::citus::refuse_on_worker(client);
            check_table(client, table, "user_table");
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
            (id_type, disabled)
        });
        store(Config {
            shape: "table",
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
            let directory_id_type = stored_id_type(&not_null::<String>(&row, "id_type"));
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
                    id_type.name(),
                    directory_id_type.name(),
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
                column_info(client, table, "user_id", "sessions").type_name == "uuid"
            });
            (users, credentials, sessions)
        });
        store(Config {
            shape: "nile",
            table: users,
            id: "id",
            id_type: IdType::Uuid,
            email: "email",
            password: None,
            format: PasswordFormat::Nile,
            name: Some("name"),
            locale: None,
            disabled: Some(("deleted", "timestamp")),
            credentials: Some(credentials),
            sessions,
        });
    }
}
