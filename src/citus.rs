//! Citus (docs/citus.md). nile_reset's state and
//! configuration stay ordinary tables on the coordinator, where its
//! functions run, its NOTIFYs reach the sender and its advisory locks mean
//! one thing; the application's tables may be distributed, and the user
//! directory then reaches them only by single-shard statements: the email
//! lookup table by its key, the users table by its id.
//!
//! `auth.use_citus()` checks that a cluster has that layout and refuses
//! the ones that would break it. Workers carry the extension (Citus creates
//! and updates it on every node) but none of its state, so the functions
//! that could be called there say so instead of working on empty tables.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::spi::{column, first_row, not_null};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Node {
    /// No Citus in this database.
    Plain,
    Coordinator,
    Worker,
}

fn select_one<T: pgrx::FromDatum + pgrx::IntoDatum>(
    client: &SpiClient<'_>,
    sql: &str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> Option<T> {
    let rows = client
        .select(sql, Some(1), args)
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    if rows.is_empty() {
        return None;
    }
    rows.first()
        .get_one::<T>()
        .unwrap_or_else(|e| crate::spi::spi_failed(e))
}

fn node(client: &SpiClient<'_>) -> Node {
    // A catalog-cache lookup, so that databases without Citus pay nothing
    // more; with Citus, one query of a one-row table.
    // SAFETY: a lookup by a NUL-terminated name; it raises no error.
    let citus = unsafe {
        pg_sys::get_relname_relid(
            c"pg_dist_local_group".as_ptr(),
            pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE),
        )
    };
    if citus == pg_sys::InvalidOid {
        return Node::Plain;
    }
    // Group 0 is the coordinator's (and a lone node's).
    match select_one::<i32>(
        client,
        "SELECT groupid FROM pg_catalog.pg_dist_local_group",
        &[],
    ) {
        Some(0) | None => Node::Coordinator,
        Some(_) => Node::Worker,
    }
}

/// Raises `code` with `message` and, as the error's hint, what to do.
fn raise(code: PgSqlErrorCode, message: String, hint: &str) -> ! {
    crate::error::raise_with_hint(code, message, hint)
}

/// 0A000 on a Citus worker: nile_reset's tokens, outbox and configuration
/// live on the coordinator.
pub fn refuse_on_worker(client: &SpiClient<'_>) {
    if node(client) == Node::Worker {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "nile_reset runs on the Citus coordinator, and this node is a worker".to_owned(),
            "Connect the application, the HTTP shim and the sender to the coordinator.",
        );
    }
}

/// Where Citus keeps a table.
enum Placement {
    /// An ordinary table of this node.
    Local,
    /// Copied to every node.
    Reference,
    /// Hash-distributed by the column.
    Distributed(String),
    /// In Citus's metadata with one shard (a Citus-local table, or a
    /// single-shard distributed one): every statement goes to that shard.
    OneShard,
}

fn placement(client: &SpiClient<'_>, table: pg_sys::Oid) -> Placement {
    let rows = client
        .select(
            "SELECT p.partmethod::pg_catalog.text AS method, p.repmodel::pg_catalog.text AS repmodel,
                    CASE WHEN p.partmethod = 'h'
                         THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END AS column
               FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1",
            None,
            &[table.into()],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    let Some(row) = first_row(rows) else {
        return Placement::Local;
    };
    let method: String = not_null(&row, "method");
    let repmodel: String = not_null(&row, "repmodel");
    match (method.as_str(), repmodel.as_str()) {
        ("h", _) => Placement::Distributed(not_null(&row, "column")),
        ("n", "t") => Placement::Reference,
        _ => Placement::OneShard,
    }
}

fn describe(placement: &Placement) -> String {
    match placement {
        Placement::Local => "ordinary table on the coordinator".to_owned(),
        Placement::Reference => "reference table".to_owned(),
        Placement::Distributed(column) => format!("distributed by {column}"),
        Placement::OneShard => "one shard".to_owned(),
    }
}

/// Nothing of nile_reset may be in Citus's metadata: distributed tables
/// refuse its statements, and a distributed function would run on a
/// worker, against that worker's empty tables. (Its schema cannot become a
/// distributed schema: Citus refuses that for an extension's schema.)
fn check_own_objects(client: &SpiClient<'_>) {
    if let Some(table) = select_one::<String>(
        client,
        "SELECT c.oid::pg_catalog.regclass::pg_catalog.text
           FROM pg_catalog.pg_depend d
           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'nile_reset'
           JOIN pg_catalog.pg_class c ON c.oid = d.objid
           JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid = c.oid
          WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'e'
          ORDER BY 1 LIMIT 1",
        &[],
    ) {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("{table} is in Citus's metadata: nile_reset's tables must stay ordinary tables on the coordinator"),
            "Citus cannot undo this for an extension's table: pg_dump the database, DROP EXTENSION nile_reset, CREATE EXTENSION nile_reset, and restore the dump.",
        );
    }
    if let Some(function) = select_one::<String>(
        client,
        "SELECT d.objid::pg_catalog.regprocedure::pg_catalog.text
           FROM pg_catalog.pg_depend d
           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'nile_reset'
           JOIN pg_catalog.pg_dist_object o
             ON o.classid = d.classid AND o.objid = d.objid
          WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
            AND (o.distribution_argument_index IS NOT NULL OR o.colocationid IS NOT NULL
                 OR COALESCE(o.force_delegation, false))
          ORDER BY 1 LIMIT 1",
        &[],
    ) {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("{function} is a distributed function: Citus would run it on a worker, which has none of nile_reset's state"),
            "Do not pass nile_reset's functions to create_distributed_function().",
        );
    }
}

/// Every worker must have the extension at the coordinator's version:
/// Citus creates and updates it there, and a worker without the library
/// would refuse the next ALTER EXTENSION.
fn check_workers(client: &SpiClient<'_>) -> String {
    let version = select_one::<String>(
        client,
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'nile_reset'",
        &[],
    )
    .unwrap_or_else(|| crate::error::internal_error("nile_reset is not in pg_extension"));
    let rows = client
        .select(
            "SELECT w.nodename || ':' || w.nodeport AS node, w.success, w.result
               FROM pg_catalog.run_command_on_workers(
                    $$SELECT COALESCE((SELECT extversion FROM pg_catalog.pg_extension
                                                  WHERE extname = 'nile_reset'), 'none')$$) w
              ORDER BY 1",
            None,
            &[],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    let mut workers = 0;
    for row in rows {
        let node: String = not_null(&row, "node");
        let result = column::<String>(&row, "result").unwrap_or_default();
        if !not_null::<bool>(&row, "success") || result != version {
            raise(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("worker {node} has nile_reset {result}; the coordinator has {version}"),
                "Install the same nile_reset package on every node; Citus then creates and updates the extension on the workers.",
            );
        }
        workers += 1;
    }
    format!("{workers} with nile_reset {version}")
}

/// The user directory's tables, and the columns its statements select by.
struct DirectoryTables {
    users: pg_sys::Oid,
    users_name: String,
    id_column: String,
    credentials: Option<(pg_sys::Oid, String)>,
    sessions: Option<(pg_sys::Oid, String)>,
    lookup: Option<(pg_sys::Oid, String, String)>,
}

fn directory_tables(client: &SpiClient<'_>) -> DirectoryTables {
    let rows = client
        .select(
            "SELECT d.user_table::pg_catalog.oid AS users, d.user_table::pg_catalog.text AS users_name,
                    d.id_column::pg_catalog.text AS id_column,
                    d.credentials_table::pg_catalog.oid AS credentials,
                    d.credentials_table::pg_catalog.text AS credentials_name,
                    d.sessions_table::pg_catalog.oid AS sessions,
                    d.sessions_table::pg_catalog.text AS sessions_name,
                    d.lookup_table::pg_catalog.oid AS lookup,
                    d.lookup_table::pg_catalog.text AS lookup_name,
                    d.lookup_email_column::pg_catalog.text AS lookup_email
               FROM nile_reset.user_directory d",
            None,
            &[],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    let Some(row) = first_row(rows) else {
        raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "nile_reset has no user directory configured".to_owned(),
            "Point nile_reset at your users first: SELECT auth.use_user_table(...) or SELECT auth.use_nile_users().",
        );
    };
    let pair = |oid: &str, name: &str| {
        column::<pg_sys::Oid>(&row, oid).map(|oid| (oid, not_null::<String>(&row, name)))
    };
    DirectoryTables {
        users: not_null(&row, "users"),
        users_name: not_null(&row, "users_name"),
        id_column: not_null(&row, "id_column"),
        credentials: pair("credentials", "credentials_name"),
        sessions: pair("sessions", "sessions_name"),
        lookup: column::<pg_sys::Oid>(&row, "lookup").map(|oid| {
            (
                oid,
                not_null::<String>(&row, "lookup_name"),
                not_null::<String>(&row, "lookup_email"),
            )
        }),
    }
}

/// A table the directory selects by `column` must be distributed by it, if
/// at all: anything else makes a statement search every shard.
fn check_key(name: &str, placement: &Placement, column: &str, why: &str) {
    if let Placement::Distributed(by) = placement {
        if by != column {
            raise(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("{name} is distributed by {by}, but nile_reset {why} by {column}"),
                &format!("Distribute {name} by {column}, or make it a reference table."),
            );
        }
    }
}

/// nile_reset reads and writes the application's tables as their owner
/// (`spi::as_role`), and Citus connects to the workers as the current role:
/// the owner of a table in Citus's metadata must be able to log in.
fn check_owner(client: &SpiClient<'_>, table: pg_sys::Oid, name: &str, placement: &Placement) {
    if matches!(placement, Placement::Local) {
        return;
    }
    let rows = client
        .select(
            "SELECT r.rolname::pg_catalog.text AS owner, r.rolcanlogin AS can_log_in
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
              WHERE c.oid = $1",
            None,
            &[table.into()],
        )
        .unwrap_or_else(|e| crate::spi::spi_failed(e));
    let Some(row) = first_row(rows) else {
        return;
    };
    if !not_null::<bool>(&row, "can_log_in") {
        let owner: String = not_null(&row, "owner");
        raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("{name} is owned by role {owner}, which cannot log in, and Citus connects to the workers as the role that reads it"),
            &format!("nile_reset reads and writes the application's tables as their owner: ALTER ROLE {owner} LOGIN, and let it connect to the workers."),
        );
    }
}

/// Checks that this Citus cluster has the layout nile_reset supports (see
/// the module comment and docs/citus.md) and describes
/// it, one row per part. Changes nothing; raises 0A000 for a layout that
/// would break, 55000 for one that is not ready (Citus missing, no user
/// directory, no email lookup in front of a distributed users table, a
/// worker without the extension).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn use_citus() -> TableIterator<'static, (name!(part, String), name!(layout, String))> {
    let rows = Spi::connect(|client| {
        match node(client) {
            Node::Plain => raise(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "Citus is not installed in this database".to_owned(),
                "CREATE EXTENSION citus on every node first.",
            ),
            Node::Worker => refuse_on_worker(client),
            Node::Coordinator => {}
        }
        check_own_objects(client);
        let workers = check_workers(client);
        let tables = directory_tables(client);
        let users = placement(client, tables.users);
        check_key(
            &tables.users_name,
            &users,
            &tables.id_column,
            "reads and writes a user",
        );
        check_owner(client, tables.users, &tables.users_name, &users);
        let distributed = !matches!(users, Placement::Local);
        let mut rows = vec![
            (
                "nile_reset's state and configuration".to_owned(),
                "ordinary tables on the coordinator".to_owned(),
            ),
            ("workers".to_owned(), workers),
            (format!("users: {}", tables.users_name), describe(&users)),
        ];
        for (oid, name) in [&tables.credentials, &tables.sessions]
            .into_iter()
            .flatten()
        {
            let part = placement(client, *oid);
            if distributed && matches!(part, Placement::Local) {
                raise(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!("{name} is an ordinary table, but {} is in Citus's metadata", tables.users_name),
                    &format!("Distribute {name} by user_id, colocated with {}: a local table's foreign key does not follow a distributed one.", tables.users_name),
                );
            }
            check_key(name, &part, "user_id", "writes it");
            check_owner(client, *oid, name, &part);
            rows.push((name.clone(), describe(&part)));
        }
        match &tables.lookup {
            Some((oid, name, email)) => {
                let part = placement(client, *oid);
                check_key(name, &part, email, "finds a user's id");
                check_owner(client, *oid, name, &part);
                rows.push((format!("email lookup: {name}"), describe(&part)));
            }
            None if matches!(users, Placement::Distributed(_)) => raise(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("{} is distributed and nile_reset has no email lookup: finding a user by email would search every shard", tables.users_name),
                "Keep a table of (lower-cased email, user id), distributed by the email or a reference table, and name it with auth.use_email_lookup(table, email_column, user_id_column).",
            ),
            None => rows.push(("email lookup".to_owned(), "none".to_owned())),
        }
        rows
    });
    TableIterator::new(rows)
}
