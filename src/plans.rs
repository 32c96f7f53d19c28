//! SPI statements prepared once per backend and kept, as PL/pgSQL keeps its
//! plans: the hot paths never re-parse their SQL.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiError, SpiTupleTable};

/// A statement and the types of its parameters.
pub struct Statement {
    pub sql: &'static str,
    pub args: &'static [PgBuiltInOids],
}

thread_local! {
    static KEPT: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> =
        RefCell::new(HashMap::new());
}

fn prepared(client: &SpiClient<'_>, statement: &Statement) -> Rc<OwnedPreparedStatement> {
    if let Some(plan) = KEPT.with(|kept| kept.borrow().get(statement.sql).cloned()) {
        return plan;
    }
    let oids: Vec<PgOid> = statement
        .args
        .iter()
        .map(|oid| PgOid::BuiltIn(*oid))
        .collect();
    let plan = Rc::new(
        client
            .prepare_mut(statement.sql, &oids)
            .unwrap_or_else(|e| spi_failed(e))
            .keep(),
    );
    KEPT.with(|kept| kept.borrow_mut().insert(statement.sql, plan.clone()));
    plan
}

/// Runs `statement` with `args`; the plan is prepared on first use.
pub fn execute<'conn>(
    client: &mut SpiClient<'conn>,
    statement: &Statement,
    args: &[DatumWithOid<'_>],
) -> SpiTupleTable<'conn> {
    let plan = prepared(client, statement);
    client
        .update(&*plan, None, args)
        .unwrap_or_else(|e| spi_failed(e))
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
