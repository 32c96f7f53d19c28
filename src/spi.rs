//! SPI plumbing: statements prepared once per backend and kept (as PL/pgSQL
//! keeps its plans, so the hot paths never re-parse their SQL), columns read
//! by name, and statements run as another role.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiError, SpiHeapTupleData, SpiTupleTable};
use pgrx::{FromDatum, IntoDatum, PgTryBuilder};
use rustc_hash::FxBuildHasher;

/// A statement fixed at compile time and the types of its parameters.
pub struct Statement {
    pub sql: &'static str,
    pub args: &'static [PgBuiltInOids],
}

/// `first` then `second`: a statement's parameter types composed from its
/// parts' (e.g. the token's, then `Email::args`'s), so that the types and the
/// code binding each part cannot drift apart.
pub const fn types<const A: usize, const B: usize, const N: usize>(
    first: [PgBuiltInOids; A],
    second: [PgBuiltInOids; B],
) -> [PgBuiltInOids; N] {
    assert!(A + B == N, "the parts' lengths do not add up");
    let mut all = [PgBuiltInOids::UNKNOWNOID; N];
    let mut i = 0;
    while i < A {
        all[i] = first[i];
        i += 1;
    }
    while i < N {
        all[i] = second[i - A];
        i += 1;
    }
    all
}

/// Statements built at run time (from the user-directory configuration) are
/// kept too, keyed by their text; a configuration change makes new texts, so
/// the map is bounded rather than invalidated.
const MAX_KEPT: usize = 256;

thread_local! {
    /// Hashed with FxHash: the keys are the extension's own statements (a
    /// kilobyte or two each, looked up on every execution), never a
    /// caller's text, so SipHash's defence against chosen keys buys nothing.
    static KEPT: RefCell<HashMap<String, Rc<OwnedPreparedStatement>, FxBuildHasher>> =
        const { RefCell::new(HashMap::with_hasher(FxBuildHasher)) };
}

fn prepared(
    client: &SpiClient<'_>,
    sql: &str,
    types: &[PgBuiltInOids],
    writes: bool,
) -> Rc<OwnedPreparedStatement> {
    if let Some(plan) = KEPT.with(|kept| kept.borrow().get(sql).cloned()) {
        return plan;
    }
    let oids: Vec<PgOid> = types.iter().map(|oid| PgOid::BuiltIn(*oid)).collect();
    let plan = if writes {
        client.prepare_mut(sql, &oids)
    } else {
        client.prepare(sql, &oids)
    };
    let plan = Rc::new(plan.unwrap_or_else(|e| spi_failed(e)).keep());
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
        kept.insert(sql.to_owned(), plan.clone());
    });
    plan
}

/// Forgets `statement`'s kept plan: its next use prepares and plans it
/// again, for the tables' sizes of then.
fn replan(statement: &Statement) {
    KEPT.with(|kept| kept.borrow_mut().remove(statement.sql));
}

/// A growing statement's uses in one transaction: from this many on it is
/// planned again at every doubling.
const REPLAN_FROM: usize = 64;

/// A growing statement's uses in the transaction it was last used in.
struct Uses {
    /// The statement, by its text's address.
    statement: usize,
    transaction: pg_sys::TransactionId,
    count: usize,
}

thread_local! {
    static GROWING_USES: RefCell<Vec<Uses>> = const { RefCell::new(Vec::new()) };
}

/// Runs `statement` as `execute` does, for a statement that inserts into
/// the table it also looks rows up in (a token's resend check reads the
/// token table). A kept plan is made for the table's size at the time, and
/// nothing inside one transaction plans it again (the statistics another
/// session gathers cannot count rows not yet committed): a transaction that
/// issues many tokens (`generate_password_tokens`, or a query calling
/// `generate_password_token` per row) would scan an ever larger table with a
/// plan made while it was small, each token costing as much as every one
/// before it. So it is planned again at its 64th, 128th, 256th ... use in a
/// transaction, and probes the index once the table is a few pages long.
pub fn execute_growing<'conn>(
    client: &mut SpiClient<'conn>,
    statement: &'static Statement,
    args: &[DatumWithOid<'_>],
) -> SpiTupleTable<'conn> {
    let key = statement.sql.as_ptr() as usize;
    // SAFETY: reads the current transaction's id (invalid before it writes).
    let transaction = unsafe { pg_sys::GetTopTransactionIdIfAny() };
    let uses = GROWING_USES.with_borrow_mut(|growing| {
        let index = growing
            .iter()
            .position(|uses| uses.statement == key)
            .unwrap_or_else(|| {
                growing.push(Uses {
                    statement: key,
                    transaction,
                    count: 0,
                });
                growing.len() - 1
            });
        let uses = &mut growing[index];
        if uses.transaction != transaction {
            uses.transaction = transaction;
            uses.count = 0;
        }
        uses.count += 1;
        uses.count
    });
    if uses >= REPLAN_FROM && uses.is_power_of_two() {
        replan(statement);
    }
    execute(client, statement, args)
}

/// Runs `statement` with `args`; the plan is prepared on first use.
pub fn execute<'conn>(
    client: &mut SpiClient<'conn>,
    statement: &Statement,
    args: &[DatumWithOid<'_>],
) -> SpiTupleTable<'conn> {
    execute_text(client, statement.sql, statement.args, args)
}

/// Runs a statement built at run time; the plan is kept like a static one.
pub fn execute_text<'conn>(
    client: &mut SpiClient<'conn>,
    sql: &str,
    types: &[PgBuiltInOids],
    args: &[DatumWithOid<'_>],
) -> SpiTupleTable<'conn> {
    let plan = prepared(client, sql, types, true);
    client
        .update(&*plan, None, args)
        .unwrap_or_else(|e| spi_failed(e))
}

/// Runs a kept statement that only reads (no DML, no row locks). Unlike
/// `execute` it does not give the transaction an id (pgrx's `update` does,
/// so that later statements see earlier writes): a call that writes
/// nothing then commits nothing, with no WAL flush, and a wrong-token
/// check costs the same as a check for an identifier without a token.
/// Until the transaction writes, the statement reads the calling query's
/// snapshot, as a read-only SPI statement does.
pub fn query<'conn>(
    client: &SpiClient<'conn>,
    statement: &Statement,
    args: &[DatumWithOid<'_>],
) -> SpiTupleTable<'conn> {
    query_text(client, statement.sql, statement.args, args)
}

/// `query` for a statement built at run time (the user directory's).
pub fn query_text<'conn>(
    client: &SpiClient<'conn>,
    sql: &str,
    types: &[PgBuiltInOids],
    args: &[DatumWithOid<'_>],
) -> SpiTupleTable<'conn> {
    let plan = prepared(client, sql, types, false);
    client
        .select(&*plan, None, args)
        .unwrap_or_else(|e| spi_failed(e))
}

/// The first row, or None when the statement returned none.
pub fn first_row<'conn>(table: SpiTupleTable<'conn>) -> Option<SpiHeapTupleData<'conn>> {
    table.into_iter().next()
}

/// A column by name: None is SQL NULL. A missing column or a type that does
/// not match is a bug in this extension, never "no value".
pub fn column<T: FromDatum + IntoDatum>(row: &SpiHeapTupleData<'_>, name: &str) -> Option<T> {
    row.get_by_name::<T, _>(name)
        .unwrap_or_else(|e| spi_failed(e))
}

/// A column that the statement guarantees is not NULL.
pub fn not_null<T: FromDatum + IntoDatum>(row: &SpiHeapTupleData<'_>, name: &str) -> T {
    column(row, name).unwrap_or_else(|| {
        crate::error::internal_error(&format!("nile_reset: column {name} is unexpectedly NULL"))
    })
}

/// SPI's own errors (not SQL errors, which PostgreSQL raises itself) mean a
/// bug in this extension.
pub fn spi_failed(error: SpiError) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("nile_reset: SPI failed: {error}")
    );
}

/// Runs `work` as `role`, as PostgreSQL runs maintenance commands as a
/// table's owner: a security-restricted operation whose setting changes are
/// undone on return. The extension's functions are SECURITY DEFINER; the
/// application's table may carry triggers, defaults, policies or index
/// expressions written by its owner, and those must never run with the
/// extension owner's rights, only with the rights their author already has.
/// An error inside `work` aborts the (sub)transaction, which restores the
/// user and the settings itself. A privilege error there (42501) says that the
/// statement ran as `role`: the caller (a superuser, say) would otherwise be
/// told "permission denied" for something it may well do itself.
pub fn as_role<R>(role: pg_sys::Oid, work: impl FnOnce() -> R) -> R {
    let mut saved_user = pg_sys::InvalidOid;
    let mut saved_context: std::ffi::c_int = 0;
    // SAFETY: plain calls into the backend's identity and GUC state, paired
    // below exactly as PostgreSQL's own callers pair them.
    let nest_level = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        pg_sys::SetUserIdAndSecContext(
            role,
            saved_context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as std::ffi::c_int
                | pg_sys::SECURITY_RESTRICTED_OPERATION as std::ffi::c_int,
        );
        pg_sys::NewGUCNestLevel()
    };
    let work = std::panic::AssertUnwindSafe(work);
    let result = PgTryBuilder::new(move || {
        let work = work;
        (work.0)()
    })
    .catch_when(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, |cause| {
        // SAFETY: a catalog lookup of a role that exists (the table's owner).
        let owner = unsafe {
            std::ffi::CStr::from_ptr(pg_sys::GetUserNameFromId(role, false))
                .to_string_lossy()
                .into_owned()
        };
        crate::error::raise_with_hint(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "{} (nile_reset ran this statement on the application's table as the table's owner, role \"{owner}\")",
                crate::error::report_of(&cause).message()
            ),
            format!(
                "Grant role \"{owner}\" what it lacks, or make a role that has it the owner of the table: statements on the application's table never run with the caller's or the extension owner's rights."
            ),
        )
    })
    .execute();
    // SAFETY: see above.
    unsafe {
        pg_sys::AtEOXact_GUC(false, nest_level);
        pg_sys::SetUserIdAndSecContext(saved_user, saved_context);
    }
    result
}
