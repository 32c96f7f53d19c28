//! This database's administrators: `auth.grant_admin`, `auth.revoke_admin`
//! and `auth.admins()`. An administrator manages origins, templates,
//! variables and the user directory (for tables it owns) here, and nowhere
//! else.
//!
//! Object privileges belong to one database, so the grants are the scope:
//! an administrator holds the grants of `ADMIN_SET` on this database's
//! nile_reset objects, and a role named in another database holds none
//! here. `nile_reset.admins` records who holds them and who named them.
//! Both survive pg_dump: the table is marked for it, and the grants are
//! never recorded as the extension's initial privileges (`pg_init_privs`),
//! of which pg_dump dumps only the differences.

use std::panic::AssertUnwindSafe;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgTryBuilder;

use crate::error::{raise_with_hint, required};
use crate::spi::{as_role, column, first_row, not_null, spi_failed};

/// What an administrator may do, as (privileges, objects): exactly what
/// docs/security.md lists. It reads neither tokens nor the outbox, and
/// writes the origins and the directory only through the functions, which
/// check what it passes. USAGE on `auth` comes on top when the install
/// created that schema (`nile_reset.auth_schema_created()`).
const ADMIN_SET: &[(&str, &str)] = &[
    ("USAGE", "SCHEMA nile_reset"),
    (
        "SELECT, INSERT, UPDATE, DELETE",
        "TABLE nile_reset.email_templates, nile_reset.template_variables",
    ),
    (
        "SELECT",
        "TABLE nile_reset.trusted_origins, nile_reset.user_directory",
    ),
    (
        "EXECUTE",
        "FUNCTION auth.add_trusted_origin(text), auth.remove_trusted_origin(text),
         auth.use_user_table(regclass, name, name, name, text, name, name, name, text, regprocedure),
         auth.use_nile_users(),
         nile_reset.configure_user_table(oid, text, text, text, text, text, text, text, text, oid),
         nile_reset.configure_nile_users(),
         auth.use_email_lookup(regclass, name, name), nile_reset.configure_email_lookup(oid, text, text),
         auth.use_citus()",
    ),
];

/// The owner of nile_reset's objects (the superuser whose install created
/// them), as whom grants are made and the record is written.
fn extension_owner(client: &SpiClient<'_>) -> pg_sys::Oid {
    first_row(
        client
            .select(
                "SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'nile_reset'",
                None,
                &[],
            )
            .unwrap_or_else(|e| spi_failed(e)),
    )
    .map(|row| not_null::<pg_sys::Oid>(&row, "nspowner"))
    .unwrap_or_else(|| crate::error::internal_error("schema nile_reset is missing"))
}

/// 42501 unless the caller (the current user: these functions are
/// SECURITY INVOKER) is a superuser or has the rights of the current
/// database's owner, as PostgreSQL decides ownership. Returns the caller's
/// name.
fn check_caller(client: &SpiClient<'_>) -> String {
    let row = first_row(
        client
            .select(
                "SELECT CURRENT_USER::pg_catalog.text AS caller,
                        pg_catalog.pg_has_role(d.datdba, 'USAGE') AS may,
                        d.datname::pg_catalog.text AS database,
                        d.datdba::pg_catalog.regrole::pg_catalog.text AS owner
                   FROM pg_catalog.pg_database d
                  WHERE d.datname = pg_catalog.current_database()",
                None,
                &[],
            )
            .unwrap_or_else(|e| spi_failed(e)),
    )
    .unwrap_or_else(|| crate::error::internal_error("the current database is not in pg_database"));
    if !not_null::<bool>(&row, "may") {
        let database: String = not_null(&row, "database");
        let owner: String = not_null(&row, "owner");
        raise_with_hint(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "only a superuser or the owner of database \"{database}\" (role {owner}) may name or list nile_reset's administrators"
            ),
            format!(
                "Ask role {owner} or a superuser: SELECT auth.grant_admin('your_role'). Administrators manage origins, templates, variables and the user directory of this database only."
            ),
        );
    }
    not_null(&row, "caller")
}

/// 22023 for PUBLIC (the invalid OID '-'::regrole gives).
fn refuse_public(role: pg_sys::Oid) {
    if role == pg_sys::InvalidOid {
        raise_with_hint(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "role must be a role, not PUBLIC".to_owned(),
            "Name one role; to give several roles the rights, name a group role and grant it to them.",
        );
    }
}

/// The role's name, quoted as SQL needs it, when it exists.
fn role_name(client: &SpiClient<'_>, role: pg_sys::Oid) -> Option<String> {
    first_row(
        client
            .select(
                "SELECT $1::pg_catalog.regrole::pg_catalog.text AS name
                   FROM pg_catalog.pg_roles WHERE oid = $1",
                None,
                &[role.into()],
            )
            .unwrap_or_else(|e| spi_failed(e)),
    )
    .map(|row| not_null(&row, "name"))
}

/// Runs `work` with PostgreSQL's "an extension script is running" flag
/// off: the grants it makes are then this database's, never recorded as
/// the extension's initial privileges, even when an update script calls it.
/// pg_dump dumps only the differences from initial privileges, so a grant
/// recorded as one would be missing from every dump, and a restore would
/// have the record of an administrator without its rights.
fn unrecorded<R>(work: impl FnOnce() -> R) -> R {
    // SAFETY: a plain read and write of a backend global, on the backend's
    // only thread; the previous value is put back whatever happens.
    let was = unsafe { pg_sys::creating_extension };
    unsafe { pg_sys::creating_extension = false };
    let work = AssertUnwindSafe(work);
    PgTryBuilder::new(move || {
        let work = work;
        (work.0)()
    })
    .finally(move || unsafe { pg_sys::creating_extension = was })
    .execute()
}

/// `GRANT`s (or `REVOKE`s) the administration set to (from) `name`, a
/// quoted role name, with USAGE on `auth` when `auth_usage`. Run as the
/// extension owner.
fn apply(grant: bool, name: &str, auth_usage: bool) {
    let statement = |privileges: &str, objects: &str| {
        if grant {
            format!("GRANT {privileges} ON {objects} TO {name}")
        } else {
            format!("REVOKE {privileges} ON {objects} FROM {name}")
        }
    };
    unrecorded(|| {
        for (privileges, objects) in ADMIN_SET {
            Spi::run(&statement(privileges, objects)).unwrap_or_else(|e| spi_failed(e));
        }
        if auth_usage {
            Spi::run(&statement("USAGE", "SCHEMA auth")).unwrap_or_else(|e| spi_failed(e));
        }
    });
}

/// Makes `role` an administrator of nile_reset in this database: it may
/// manage origins (`auth.add_trusted_origin`, `auth.remove_trusted_origin`),
/// edit `nile_reset.email_templates` and `nile_reset.template_variables`
/// with plain SQL, read the origins and the user directory, and point the
/// directory at tables it owns (`auth.use_user_table`, `use_nile_users`,
/// `use_email_lookup`); when the install created `auth`, it gets USAGE on
/// it. It reads neither tokens nor the outbox. Members of `role` get the
/// same. Only here: a database's grants say nothing about another's.
///
/// The caller must be a superuser or the database's owner (42501). `role`
/// must be a role other than PUBLIC, a superuser (which has every right
/// already) or a role PostgreSQL predefines (22023). Anyone who can grant
/// `role` to others administers nile_reset here too: name roles whose
/// membership you control. Returns false when `role` already was an
/// administrator (its grants are made again, so the call also repairs
/// them).
#[pg_extern(sql = r#"
CREATE FUNCTION auth."grant_admin"("role" regrole) RETURNS boolean
VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'grant_admin_wrapper';
"#)]
fn grant_admin(role: Option<pg_sys::Oid>) -> bool {
    let role = required(role, "role");
    let (caller, name, owner) = Spi::connect(|client| {
        crate::citus::refuse_on_worker(client);
        let caller = check_caller(client);
        refuse_public(role);
        let row = first_row(
            client
                .select(
                    "SELECT $1::pg_catalog.regrole::pg_catalog.text AS name, rolsuper,
                            oid < $2 AS predefined
                       FROM pg_catalog.pg_roles WHERE oid = $1",
                    None,
                    &[
                        role.into(),
                        pg_sys::Oid::from(pg_sys::FirstNormalObjectId).into(),
                    ],
                )
                .unwrap_or_else(|e| spi_failed(e)),
        )
        .unwrap_or_else(|| {
            raise_with_hint(
                PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                format!("role with OID {} does not exist", role.to_u32()),
                "Name an existing role.",
            )
        });
        let name: String = not_null(&row, "name");
        if not_null::<bool>(&row, "rolsuper") {
            raise_with_hint(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("role {name} is a superuser, which administers nile_reset already"),
                "Name a role without SUPERUSER.",
            );
        }
        if not_null::<bool>(&row, "predefined") {
            raise_with_hint(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("role {name} is predefined by PostgreSQL"),
                "Create a role of your own for the administrators and name it.",
            );
        }
        (caller, name, extension_owner(client))
    });
    as_role(owner, || {
        let (added, auth_usage) = Spi::connect_mut(|client| {
            // USAGE on `auth` is given only on a schema the install created,
            // and taken back by revoke_admin only if given here: a role may
            // hold it already (an application role's recipe).
            let auth_usage = first_row(
                client
                    .update(
                        "SELECT nile_reset.auth_schema_created()
                                AND NOT EXISTS (
                                    SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
                                     WHERE n.nspname = 'auth' AND a.grantee = $1
                                       AND a.privilege_type = 'USAGE') AS auth_usage",
                        None,
                        &[role.into()],
                    )
                    .unwrap_or_else(|e| spi_failed(e)),
            )
            .is_some_and(|row| not_null::<bool>(&row, "auth_usage"));
            // A role named again keeps its record (and what it says about
            // `auth`); its grants are made again.
            let row = first_row(
                client
                    .update(
                        "WITH added AS (
                             INSERT INTO nile_reset.admins (role, granted_by, auth_usage)
                             VALUES ($1::pg_catalog.oid::pg_catalog.regrole, $2, $3)
                             ON CONFLICT (role) DO NOTHING
                             RETURNING auth_usage)
                         SELECT true AS added, auth_usage FROM added
                         UNION ALL
                         SELECT false, auth_usage FROM nile_reset.admins
                          WHERE role = $1::pg_catalog.oid::pg_catalog.regrole
                            AND NOT EXISTS (SELECT 1 FROM added)",
                        None,
                        &[role.into(), caller.as_str().into(), auth_usage.into()],
                    )
                    .unwrap_or_else(|e| spi_failed(e)),
            )
            .unwrap_or_else(|| {
                crate::error::internal_error("the administrator's record is missing")
            });
            (
                not_null::<bool>(&row, "added"),
                not_null::<bool>(&row, "auth_usage"),
            )
        });
        apply(true, &name, auth_usage);
        added
    })
}

/// Ends `role`'s administration of nile_reset in this database: removes
/// its record and revokes the grants `auth.grant_admin` makes (USAGE on
/// `auth` only if `grant_admin` gave it). The caller must be a superuser or
/// the database's owner (42501); PUBLIC is refused (22023). A role that no
/// longer exists (dropped after `DROP OWNED BY`) can be named by its OID to
/// remove its record. Returns false when `role` was not recorded (its
/// administration grants are revoked all the same).
#[pg_extern(sql = r#"
CREATE FUNCTION auth."revoke_admin"("role" regrole) RETURNS boolean
VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'revoke_admin_wrapper';
"#)]
fn revoke_admin(role: Option<pg_sys::Oid>) -> bool {
    let role = required(role, "role");
    let (name, owner) = Spi::connect(|client| {
        crate::citus::refuse_on_worker(client);
        check_caller(client);
        refuse_public(role);
        (role_name(client, role), extension_owner(client))
    });
    as_role(owner, || {
        let removed = Spi::connect_mut(|client| {
            first_row(
                client
                    .update(
                        "DELETE FROM nile_reset.admins WHERE role = $1::pg_catalog.oid::pg_catalog.regrole
                         RETURNING auth_usage",
                        None,
                        &[role.into()],
                    )
                    .unwrap_or_else(|e| spi_failed(e)),
            )
            .map(|row| not_null::<bool>(&row, "auth_usage"))
        });
        if let Some(name) = name {
            apply(false, &name, removed.unwrap_or(false));
        }
        removed.is_some()
    })
}

/// This database's administrators: each role, who named it (by name at
/// the time) and when, by role name. A role shown by number no longer
/// exists (`auth.revoke_admin(<number>)` removes it). The caller must be a
/// superuser or the database's owner (42501).
#[pg_extern(sql = r#"
CREATE FUNCTION auth."admins"() RETURNS TABLE ("role" regrole, "granted_by" text, "granted_at" timestamptz)
STABLE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'admins_wrapper';
"#)]
fn admins() -> TableIterator<
    'static,
    (
        name!(role, pg_sys::Oid),
        name!(granted_by, String),
        name!(granted_at, TimestampWithTimeZone),
    ),
> {
    let owner = Spi::connect(|client| {
        crate::citus::refuse_on_worker(client);
        check_caller(client);
        extension_owner(client)
    });
    let rows = as_role(owner, || {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT role::pg_catalog.oid AS role, granted_by::pg_catalog.text AS granted_by, granted_at
                       FROM nile_reset.admins ORDER BY role::pg_catalog.text",
                    None,
                    &[],
                )
                .unwrap_or_else(|e| spi_failed(e))
                .map(|row| {
                    (
                        not_null::<pg_sys::Oid>(&row, "role"),
                        not_null::<String>(&row, "granted_by"),
                        not_null::<TimestampWithTimeZone>(&row, "granted_at"),
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    TableIterator::new(rows)
}

/// The extension's own grants on its objects go to `pg_database_owner`
/// (EXECUTE on `grant_admin`, `revoke_admin`, `admins`); every other grant
/// is this database's (an administrator's, an application role's recipe)
/// and belongs in a dump. So does every grant on `auth`: it is no member of
/// the extension, pg_dump writes it as a schema of its own, and a restore
/// makes it before CREATE EXTENSION, which then leaves its privileges alone.
#[pg_schema]
pub mod nile_reset {
    use super::*;

    /// For the install's and the updates' scripts, called last. A grant an
    /// extension script makes is recorded as one of the extension's initial
    /// privileges (`pg_init_privs`), and pg_dump leaves those out of a dump:
    /// 0.2.0's install recorded its grants to `nile_reset_admin`, a
    /// statement in an update records whatever else the object had (an
    /// application role's USAGE on `auth`), and an install's grant on
    /// `auth` would be lost by a restore. For each of nile_reset's
    /// functions, tables, sequences, its schema, and `auth` when the install
    /// created it, whose initial privileges name anyone but the owner and
    /// (on the extension's own objects) `pg_database_owner`, this records
    /// those initial privileges only, then makes every other grant the
    /// object has again, unrecorded: each grantee keeps its privileges
    /// (re-granted by the object's owner), and pg_dump dumps them.
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    fn reset_initial_privileges() {
        for object in Spi::connect(to_reset) {
            // Recorded: every grant but the owner's goes (CASCADE takes
            // those made with a grant option along), then the extension's
            // own come back.
            let mut from = vec!["PUBLIC".to_owned()];
            from.extend(object.grantees);
            Spi::run(&format!(
                "REVOKE ALL ON {} FROM {} CASCADE",
                object.name,
                from.join(", ")
            ))
            .unwrap_or_else(|e| spi_failed(e));
            for grant in &object.own {
                Spi::run(&format!("GRANT {grant}")).unwrap_or_else(|e| spi_failed(e));
            }
            // Unrecorded: every other grant the object had, as the
            // database's.
            unrecorded(|| {
                for grant in &object.others {
                    Spi::run(&format!("GRANT {grant}")).unwrap_or_else(|e| spi_failed(e));
                }
            });
        }
    }
}

/// An object whose initial privileges `reset_initial_privileges` resets:
/// its grants as `GRANT` clauses (the extension's own, the others) and
/// every grantee but PUBLIC.
struct ToReset {
    name: String,
    own: Vec<String>,
    others: Vec<String>,
    grantees: Vec<String>,
}

fn to_reset(client: &SpiClient<'_>) -> Vec<ToReset> {
    client
                .select(
                    "WITH ext AS (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'nile_reset'),
                     objects AS (
                         SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass AS classid, p.oid,
                                pg_catalog.format('FUNCTION %s', p.oid::pg_catalog.regprocedure) AS object,
                                p.proowner AS owner, p.proacl AS acl, true AS member
                           FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
                          WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
                            AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                            AND d.refobjid = (SELECT oid FROM ext)
                         UNION ALL
                         SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid,
                                pg_catalog.format('%s %s', CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                                  c.oid::pg_catalog.regclass),
                                c.relowner, c.relacl, true
                           FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
                          WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'e'
                            AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                            AND d.refobjid = (SELECT oid FROM ext)
                         UNION ALL
                         SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass, n.oid,
                                pg_catalog.format('SCHEMA %I', n.nspname), n.nspowner, n.nspacl,
                                n.nspname = 'nile_reset'
                           FROM pg_catalog.pg_namespace n
                          WHERE n.nspname = 'nile_reset'
                             OR (n.nspname = 'auth' AND nile_reset.auth_schema_created())
                     ),
                     chosen AS (
                         SELECT o.* FROM objects o
                          WHERE EXISTS (
                              SELECT 1 FROM pg_catalog.pg_init_privs i, pg_catalog.aclexplode(i.initprivs) a
                               WHERE i.objoid = o.oid AND i.classoid = o.classid AND i.objsubid = 0
                                 AND i.privtype = 'e' AND a.grantee <> o.owner
                                 AND NOT (o.member AND a.grantee = 'pg_database_owner'::pg_catalog.regrole))
                     ),
                     -- One statement's worth per grantee: its privileges, with
                     -- or without grant option.
                     grants AS (
                         SELECT c.object, a.grantee,
                                c.member AND a.grantee = 'pg_database_owner'::pg_catalog.regrole AS own,
                                pg_catalog.format('%s ON %s TO %s%s',
                                    pg_catalog.string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type), c.object,
                                    CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                         ELSE a.grantee::pg_catalog.regrole::pg_catalog.text END,
                                    CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS clause
                           FROM chosen c, pg_catalog.aclexplode(c.acl) a
                          WHERE a.grantee <> c.owner
                          GROUP BY c.object, c.member, a.grantee, a.is_grantable
                     )
                     SELECT c.object,
                            pg_catalog.array_agg(g.clause ORDER BY g.clause)
                                FILTER (WHERE g.own) AS own,
                            pg_catalog.array_agg(g.clause ORDER BY g.clause)
                                FILTER (WHERE NOT g.own) AS others,
                            pg_catalog.array_agg(DISTINCT g.grantee::pg_catalog.regrole::pg_catalog.text)
                                FILTER (WHERE g.grantee <> 0) AS grantees
                       FROM chosen c LEFT JOIN grants g ON g.object = c.object
                      GROUP BY c.object
                      ORDER BY c.object",
                    None,
                    &[],
                )
                .unwrap_or_else(|e| spi_failed(e))
                .map(|row| ToReset {
                    name: not_null(&row, "object"),
                    own: column(&row, "own").unwrap_or_default(),
                    others: column(&row, "others").unwrap_or_default(),
                    grantees: column(&row, "grantees").unwrap_or_default(),
                })
                .collect()
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// The first column of `sql`'s one row.
    fn answer<T: pgrx::IntoDatum + pgrx::FromDatum>(sql: &str) -> Option<T> {
        Spi::get_one::<T>(sql).unwrap()
    }

    fn role(name: &str) {
        Spi::run(&format!("CREATE ROLE {name}")).unwrap();
    }

    /// What grant_admin gives is exactly the documented set, and
    /// revoke_admin takes all of it back.
    #[pg_test]
    fn the_administration_set_is_granted_and_revoked_whole() {
        role("admin_set_test");
        let rights = || {
            Spi::get_one::<String>(
                "SELECT pg_catalog.concat_ws(' ',
                    has_schema_privilege('admin_set_test', 'nile_reset', 'USAGE'),
                    has_table_privilege('admin_set_test', 'nile_reset.email_templates', 'SELECT, INSERT, UPDATE, DELETE'),
                    has_table_privilege('admin_set_test', 'nile_reset.template_variables', 'SELECT, INSERT, UPDATE, DELETE'),
                    has_table_privilege('admin_set_test', 'nile_reset.trusted_origins', 'SELECT'),
                    has_table_privilege('admin_set_test', 'nile_reset.trusted_origins', 'INSERT'),
                    has_table_privilege('admin_set_test', 'nile_reset.user_directory', 'SELECT'),
                    has_table_privilege('admin_set_test', 'nile_reset.user_directory', 'UPDATE'),
                    has_table_privilege('admin_set_test', 'nile_reset.verification_tokens', 'SELECT'),
                    has_table_privilege('admin_set_test', 'nile_reset.email_outbox', 'SELECT'),
                    has_table_privilege('admin_set_test', 'nile_reset.admins', 'SELECT'),
                    has_function_privilege('admin_set_test', 'auth.add_trusted_origin(text)', 'EXECUTE'),
                    has_function_privilege('admin_set_test', 'auth.use_citus()', 'EXECUTE'),
                    has_function_privilege('admin_set_test', 'auth.generate_password_link(text, text, text)', 'EXECUTE'))",
            )
            .unwrap()
            .unwrap()
        };
        assert_eq!(rights(), "f f f f f f f f f f f f f");
        assert_eq!(
            answer::<bool>("SELECT auth.grant_admin('admin_set_test')"),
            Some(true)
        );
        assert_eq!(rights(), "t t t t f t f f f f t t f");
        assert_eq!(
            answer::<bool>("SELECT auth.grant_admin('admin_set_test')"),
            Some(false)
        );
        assert_eq!(
            answer::<String>("SELECT string_agg(role::text, ',') FROM auth.admins()"),
            Some("admin_set_test".to_owned())
        );
        assert_eq!(
            answer::<bool>("SELECT auth.revoke_admin('admin_set_test')"),
            Some(true)
        );
        assert_eq!(rights(), "f f f f f f f f f f f f f");
        assert_eq!(answer::<i64>("SELECT count(*) FROM auth.admins()"), Some(0));
    }

    /// Inside an extension script (an update calling grant_admin's code)
    /// the grants still are not recorded as the extension's initial
    /// privileges, which pg_dump would leave out.
    #[pg_test]
    fn grants_are_never_initial_privileges() {
        role("admin_init_test");
        // SAFETY: set and put back around one call, as an update script has it.
        unsafe { pg_sys::creating_extension = true };
        let added = Spi::get_one::<bool>("SELECT auth.grant_admin('admin_init_test')");
        unsafe { pg_sys::creating_extension = false };
        assert_eq!(added.unwrap(), Some(true));
        assert_eq!(
            Spi::get_one::<i64>(
                "SELECT count(*) FROM pg_init_privs i, aclexplode(i.initprivs) a
                  WHERE a.grantee = 'admin_init_test'::regrole"
            )
            .unwrap(),
            Some(0)
        );
        assert_eq!(
            Spi::get_one::<bool>(
                "SELECT has_table_privilege('admin_init_test', 'nile_reset.email_templates', 'UPDATE')"
            )
            .unwrap(),
            Some(true)
        );
    }

    #[pg_test(error = "role must be a role, not PUBLIC")]
    fn public_is_refused() {
        Spi::run("SELECT auth.grant_admin('-')").unwrap();
    }

    #[pg_test(error = "role admin_super_test is a superuser, which administers nile_reset already")]
    fn a_superuser_is_refused() {
        role("admin_super_test SUPERUSER");
        Spi::run("SELECT auth.grant_admin('admin_super_test')").unwrap();
    }

    #[pg_test(error = "role pg_read_all_data is predefined by PostgreSQL")]
    fn a_predefined_role_is_refused() {
        Spi::run("SELECT auth.grant_admin('pg_read_all_data')").unwrap();
    }
}
