//! The `on_password_reset` function: the application's own step of a reset
//! (end its sessions, rotate remember tokens, bump `updated_at`), called
//! with the user's id after the new hash is written, as the users table's
//! owner. It runs in a subtransaction so that its failure is rolled back
//! cleanly before the reset reports it: its own message goes to the server
//! log only, the caller gets 38000 naming the function, and raising that
//! aborts the caller's transaction, the new hash with it.

use std::panic::AssertUnwindSafe;

use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgTryBuilder;

use super::Hook;
use crate::spi::{as_role, execute_text};

/// Runs `work` as PL/pgSQL runs a block with an EXCEPTION clause: in an
/// internal subtransaction, committed when it returns, rolled back when it
/// raises (which also restores the user and the settings `as_role`
/// changed), the error handed back.
fn in_subtransaction<R>(work: impl FnOnce() -> R) -> Result<R, Box<CaughtError>> {
    // SAFETY: the calls and the context/owner bookkeeping of pl_exec.c's
    // exec_stmt_block, in its order.
    let (context, owner) = unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        (context, owner)
    };
    let result = PgTryBuilder::new(AssertUnwindSafe(|| Ok(work())))
        .catch_others(|error| Err(Box::new(error)))
        .execute();
    // SAFETY: see above; the error, if any, was copied and flushed.
    unsafe {
        if result.is_ok() {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
    }
    result
}

/// The five characters of a SQLSTATE from PostgreSQL's packed form
/// (MAKE_SQLSTATE: six bits a character, the first lowest).
fn sqlstate(code: PgSqlErrorCode) -> String {
    let mut packed = code as isize as i64;
    (0..5)
        .map(|_| {
            let c = char::from(b'0' + (packed & 0x3F) as u8);
            packed >>= 6;
            c
        })
        .collect()
}

/// The call: the id is passed as text and cast to the function's argument
/// type, which `configure` checked is the id column's own.
fn call_sql(hook: &Hook) -> String {
    format!(
        "SELECT {name}(CAST($1 AS {arg}))",
        name = hook.name,
        arg = hook.arg_type
    )
}

/// Calls `hook` with `user_id` as `owner`. Its failure is logged (its
/// SQLSTATE and message; not its detail, which may quote the row) and
/// raised as 38000.
pub(super) fn call(client: &mut SpiClient<'_>, hook: &Hook, owner: pg_sys::Oid, user_id: &str) {
    let sql = call_sql(hook);
    let outcome = in_subtransaction(|| {
        as_role(owner, || {
            execute_text(client, &sql, &[PgBuiltInOids::TEXTOID], &[user_id.into()]);
        })
    });
    let Err(error) = outcome else {
        return;
    };
    let report = crate::error::report_of(&error);
    ereport!(
        LOG,
        PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
        format!(
            "nile_reset: the on_password_reset function {} failed: SQLSTATE {}: {}",
            hook.signature,
            sqlstate(report.sql_error_code()),
            report.message()
        )
    );
    crate::error::raise_with_hint(
        PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
        format!(
            "the on_password_reset function {} failed; the password was not changed",
            hook.signature
        ),
        "The server log has the function's own error.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_unpack() {
        assert_eq!(
            sqlstate(PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
            "38000"
        );
        assert_eq!(sqlstate(PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION), "23505");
        assert_eq!(sqlstate(PgSqlErrorCode::ERRCODE_RAISE_EXCEPTION), "P0001");
        assert_eq!(sqlstate(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR), "XX000");
    }

    #[test]
    fn the_id_is_cast_to_the_functions_argument_type() {
        let hook = Hook {
            name: "app.\"end sessions\"".into(),
            arg_type: "bigint".into(),
            signature: "app.\"end sessions\"(bigint)".into(),
        };
        assert_eq!(
            call_sql(&hook),
            "SELECT app.\"end sessions\"(CAST($1 AS bigint))"
        );
    }
}
