//! The checks `configure` makes before it stores a name: the table is one
//! the caller may point nile_reset at, and each column exists with a type
//! the statements can use.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::{DisabledType, IdType};
use crate::spi::{first_row, not_null};

fn raise(code: PgSqlErrorCode, message: String) -> ! {
    ereport!(ERROR, code, message);
}

/// A column as the catalog describes it (a domain as its base type).
pub(super) struct ColumnInfo {
    pub(super) type_name: String,
    category: String,
}

/// A column of the user table; 42703 when it is missing.
pub(super) fn column_info(
    client: &SpiClient<'_>,
    table: pg_sys::Oid,
    name: &str,
    role: &str,
) -> ColumnInfo {
    column_info_in(client, table, name, role, "user table")
}

/// `column_info`, saying `where_` (e.g. "lookup table") when the column is missing.
pub(super) fn column_info_in(
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

/// 42804: the column's type is not one the statements can use.
pub(super) fn wrong_type(role: &str, name: &str, found: &str, wanted: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
        format!("{role} column \"{name}\" has type {found}; it must be {wanted}"),
    );
}

/// The table, checked: an ordinary (or partitioned) permanent table outside
/// the system schemas, that the caller owns (or the caller is a superuser):
/// the directory decides whose password a reset writes, so nobody may point
/// it at a table they could not write themselves.
pub(super) fn check_table(client: &SpiClient<'_>, table: pg_sys::Oid, what: &str) -> pg_sys::Oid {
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
    if is_reserved_schema(&schema) {
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

/// The `on_password_reset` function, checked: a plain function of one
/// argument of exactly the id column's type, returning void (42804
/// otherwise, 42809 for a procedure, an aggregate or a temporary function),
/// that the table's owner, who runs it, may execute, and whose owner
/// already has the table owner's rights (42501): whoever owns the function
/// can change what a reset runs as the table's owner. Returns its
/// schema-qualified signature, as the directory stores it.
pub(super) fn check_hook(
    client: &SpiClient<'_>,
    hook: pg_sys::Oid,
    table: pg_sys::Oid,
    id: &str,
) -> String {
    let row = client
        .select(
            "SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS signature,
                    p.prokind::pg_catalog.text AS kind,
                    p.pronamespace = pg_catalog.pg_my_temp_schema() AS temporary,
                    p.pronargs = 1 AND p.proargtypes[0] = a.atttypid
                        AND p.prorettype = 'pg_catalog.void'::pg_catalog.regtype AND NOT p.proretset
                        AS fits,
                    pg_catalog.format_type(a.atttypid, NULL) AS id_type,
                    pg_catalog.format_type(p.prorettype, NULL) AS returns,
                    pg_catalog.has_function_privilege(c.relowner, p.oid, 'EXECUTE') AS owner_may_execute,
                    c.relowner::pg_catalog.regrole::pg_catalog.text AS owner,
                    fo.rolsuper OR pg_catalog.pg_has_role(p.proowner, c.relowner, 'USAGE') AS author_trusted,
                    fo.rolname::pg_catalog.text AS author
               FROM pg_catalog.pg_proc p
               JOIN pg_catalog.pg_roles fo ON fo.oid = p.proowner,
                    pg_catalog.pg_class c
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
              WHERE p.oid = $1 AND c.oid = $2 AND a.attname = $3",
            None,
            &[hook.into(), table.into(), id.into()],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    let Some(row) = first_row(row) else {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_FUNCTION,
            "on_password_reset names no function".into(),
        );
    };
    let signature: String = not_null(&row, "signature");
    let id_type: String = not_null(&row, "id_type");
    if not_null::<String>(&row, "kind") != "f" || not_null::<bool>(&row, "temporary") {
        raise(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("on_password_reset {signature} must be a function (id {id_type}) RETURNS void, not a procedure, an aggregate or a temporary function"),
        );
    }
    if !not_null::<bool>(&row, "fits") {
        raise(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "on_password_reset must be a function (id {id_type}) RETURNS void, of the id column's type; {signature} returns {}",
                not_null::<String>(&row, "returns")
            ),
        );
    }
    if !not_null::<bool>(&row, "owner_may_execute") {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "the user table's owner {} may not execute on_password_reset {signature}, and a reset runs it as that owner",
                not_null::<String>(&row, "owner")
            ),
        );
    }
    if !not_null::<bool>(&row, "author_trusted") {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "on_password_reset {signature} is owned by {}, who lacks the rights of the user table's owner {} that a reset runs it with",
                not_null::<String>(&row, "author"),
                not_null::<String>(&row, "owner")
            ),
        );
    }
    signature
}

/// PostgreSQL's own schemas, and nile_reset's: never a user directory.
fn is_reserved_schema(schema: &str) -> bool {
    matches!(
        schema,
        "pg_catalog" | "information_schema" | "pg_toast" | "nile_reset"
    )
}

/// The id type a column of this type (`format_type` spelling) is used as.
fn id_type_for(type_name: &str) -> Option<IdType> {
    match type_name {
        "uuid" => Some(IdType::Uuid),
        "bigint" => Some(IdType::Bigint),
        "integer" => Some(IdType::Integer),
        "text" | "character varying" => Some(IdType::Text),
        _ => None,
    }
}

/// The id column's type; 42804 for any other.
pub(super) fn id_type_of(info: &ColumnInfo, name: &str) -> IdType {
    id_type_for(&info.type_name)
        .unwrap_or_else(|| wrong_type("id", name, &info.type_name, "uuid, bigint, integer or text"))
}

/// 42804 unless the column is of a string type (text, varchar, citext...).
pub(super) fn check_text(info: &ColumnInfo, role: &str, name: &str) {
    if info.category != "S" {
        wrong_type(role, name, &info.type_name, "text, varchar or citext");
    }
}

/// What a disabled column of this type (`format_type` spelling) says.
fn disabled_type_for(type_name: &str) -> Option<DisabledType> {
    match type_name {
        "boolean" => Some(DisabledType::Boolean),
        "timestamp with time zone" | "timestamp without time zone" | "date" => {
            Some(DisabledType::Timestamp)
        }
        _ => None,
    }
}

/// The disabled column's type; 42804 for any other.
pub(super) fn disabled_type_of(info: &ColumnInfo, name: &str) -> DisabledType {
    disabled_type_for(&info.type_name).unwrap_or_else(|| {
        wrong_type(
            "disabled",
            name,
            &info.type_name,
            "boolean (true = disabled) or a timestamp (set = deleted)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_columns_of_the_four_types_are_accepted() {
        assert_eq!(id_type_for("uuid"), Some(IdType::Uuid));
        assert_eq!(id_type_for("bigint"), Some(IdType::Bigint));
        assert_eq!(id_type_for("integer"), Some(IdType::Integer));
        assert_eq!(id_type_for("text"), Some(IdType::Text));
        assert_eq!(id_type_for("character varying"), Some(IdType::Text));
        for other in [
            "smallint",
            "numeric",
            "int8",
            "character",
            "citext",
            "Uuid",
            "",
        ] {
            assert_eq!(id_type_for(other), None, "{other:?}");
        }
    }

    #[test]
    fn disabled_columns_are_booleans_or_times() {
        assert_eq!(disabled_type_for("boolean"), Some(DisabledType::Boolean));
        for time in [
            "timestamp with time zone",
            "timestamp without time zone",
            "date",
        ] {
            assert_eq!(
                disabled_type_for(time),
                Some(DisabledType::Timestamp),
                "{time:?}"
            );
        }
        for other in [
            "integer",
            "text",
            "time without time zone",
            "timestamp",
            "bool",
        ] {
            assert_eq!(disabled_type_for(other), None, "{other:?}");
        }
    }

    #[test]
    fn system_schemas_and_the_extensions_own_are_reserved() {
        for schema in ["pg_catalog", "information_schema", "pg_toast", "nile_reset"] {
            assert!(is_reserved_schema(schema), "{schema:?}");
        }
        for schema in ["public", "users", "auth", "pg_temp_3", "Nile_reset"] {
            assert!(!is_reserved_schema(schema), "{schema:?}");
        }
    }
}
