//! Set-returning functions that always answer exactly one row, in one call.
//!
//! A `RETURNS TABLE` function is called once per row and once more to say
//! that the set has ended: that is how pgrx's `TableIterator` answers. For the
//! SECURITY DEFINER functions on the hot path every call also applies and
//! undoes `SET search_path` (PostgreSQL 15 and 16 then look the path up
//! again), so the empty second call cost a wrong-token check about 2% of its
//! backend CPU. Answering the row with `isDone = ExprSingleResult` ends the
//! set in the first call: the executor asks again only after
//! `ExprMultipleResult` (execSRF.c, value-per-call mode, both in FROM and in
//! a select list).
//!
//! pgrx would generate these entry points for a `#[pg_extern]`; they are
//! written by hand under the symbols pgrx gave them (`<name>_wrapper`), so
//! installed functions, 0.2.0's included, keep calling them, and each one's
//! `CREATE FUNCTION` is the one pgrx generated (`extension_sql!` beside it).

use pgrx::pg_sys;
use pgrx::prelude::*;

/// PostgreSQL's version-1 calling convention record, which `CREATE FUNCTION
/// ... LANGUAGE c` looks up as `pg_finfo_<symbol>`.
pub const V1_API: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };

/// Answers the call's one row (`None` is SQL NULL), built with the function's
/// declared result columns, and tells the executor that the set ends here.
///
/// # Safety
/// `fcinfo` is the call's own, for a function declared `RETURNS TABLE` with
/// exactly `N` columns of the datums' types.
pub unsafe fn answer<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    row: [Option<pg_sys::Datum>; N],
) -> pg_sys::Datum {
    // SAFETY: the caller passes its own fcinfo; resultinfo is a node or NULL.
    let rsinfo = unsafe { (*fcinfo).resultinfo }.cast::<pg_sys::ReturnSetInfo>();
    let value_per_call = !rsinfo.is_null()
        // SAFETY: a non-NULL resultinfo is a node, whose tag comes first.
        && unsafe { (*rsinfo).type_ } == pg_sys::NodeTag::T_ReturnSetInfo
        // SAFETY: it is a ReturnSetInfo, just checked.
        && unsafe { (*rsinfo).allowedModes } & pg_sys::SetFunctionReturnMode::SFRM_ValuePerCall as i32 != 0;
    if !value_per_call {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "set-valued function called in context that cannot accept a set"
        );
    }
    let mut descriptor: pg_sys::TupleDesc = std::ptr::null_mut();
    // SAFETY: fcinfo is the call's; the descriptor is allocated in the
    // current memory context, which outlives the returned datum's copy.
    let class =
        unsafe { pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut descriptor) };
    // SAFETY: a non-NULL descriptor from get_call_result_type is valid.
    if class != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE
        || unsafe { (*descriptor).natts } as usize != N
    {
        crate::error::internal_error(
            "nile_reset: a one-row function's result type does not match its row",
        );
    }
    let mut datums = row.map(|datum| datum.unwrap_or(pg_sys::Datum::from(0)));
    let mut nulls = row.map(|datum| datum.is_none());
    // SAFETY: the descriptor has N columns, as many as datums and nulls; a
    // blessed descriptor lets the executor find the row type by its typmod.
    unsafe {
        let descriptor = pg_sys::BlessTupleDesc(descriptor);
        let tuple = pg_sys::heap_form_tuple(descriptor, datums.as_mut_ptr(), nulls.as_mut_ptr());
        (*rsinfo).isDone = pg_sys::ExprDoneCond::ExprSingleResult;
        pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data)
    }
}

/// Defines `pg_finfo_<symbol>` and the guarded entry point `<symbol>`, which
/// hands `fcinfo` to `$body` (an `unsafe fn(FunctionCallInfo) -> Datum`).
macro_rules! one_row_function {
    ($finfo:ident, $symbol:ident, $body:path) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            &$crate::one_row::V1_API
        }

        #[::pgrx::pg_guard]
        #[no_mangle]
        #[doc(hidden)]
        pub unsafe extern "C-unwind" fn $symbol(
            fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            // SAFETY: PostgreSQL calls this with the call's own fcinfo.
            unsafe { $body(fcinfo) }
        }
    };
}
pub(crate) use one_row_function;
