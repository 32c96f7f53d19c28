//! What the stored configuration points at, by OID: a table's quoted,
//! schema-qualified name and its owner, a function's name, argument type
//! and signature. Read from PostgreSQL's catalog caches, which a session fills anyway
//! for the tables its statements use. (A join over pg_class, pg_namespace
//! and pg_proc did this until 0.3.0's per-connection measurements: planning
//! it was most of a new session's first call.)

use std::ffi::{c_char, CStr};

use pgrx::pg_sys;

/// A relation's quoted, schema-qualified name (as `quote_ident(nspname) ||
/// '.' || quote_ident(relname)` spells it) and its owner; None when no
/// relation has that OID any more.
pub(super) fn relation(oid: pg_sys::Oid) -> Option<(String, pg_sys::Oid)> {
    // SAFETY: pg_class rows are FormData_pg_class; relname is a NUL-terminated
    // NameData, copied out.
    let (namespace, name, owner) = unsafe {
        cached_row(
            pg_sys::SysCacheIdentifier::RELOID,
            oid,
            |class: &pg_sys::FormData_pg_class| {
                (
                    class.relnamespace,
                    CStr::from_ptr(class.relname.data.as_ptr()).to_owned(),
                    class.relowner,
                )
            },
        )
    }?;
    Some((qualified(namespace, &name)?, owner))
}

/// A function's quoted, schema-qualified name, its first argument's type as
/// `format_type(oid, NULL)` spells it (None: it takes no argument) and its
/// signature as `regprocedure` spells it (for messages); None when no
/// function has that OID any more.
pub(super) fn function(oid: pg_sys::Oid) -> Option<(String, Option<String>, String)> {
    // SAFETY: pg_proc rows are FormData_pg_proc; proname is a NUL-terminated
    // NameData, copied out, and proargtypes holds pronargs entries.
    let (namespace, name, first_arg) = unsafe {
        cached_row(
            pg_sys::SysCacheIdentifier::PROCOID,
            oid,
            |function: &pg_sys::FormData_pg_proc| {
                (
                    function.pronamespace,
                    CStr::from_ptr(function.proname.data.as_ptr()).to_owned(),
                    (function.pronargs > 0).then(|| *function.proargtypes.values.as_ptr()),
                )
            },
        )
    }?;
    // SAFETY: format_type_be and format_procedure (what regprocedure's output
    // calls) return palloc'd C strings.
    let (arg_type, signature) = unsafe {
        (
            first_arg.and_then(|arg| owned(pg_sys::format_type_be(arg))),
            owned(pg_sys::format_procedure(oid))?,
        )
    };
    Some((
        qualified(namespace, &name)?,
        arg_type.map(|arg_type| arg_type.to_string_lossy().into_owned()),
        signature.to_string_lossy().into_owned(),
    ))
}

/// What `read` takes from the catalog cache's row for `oid`, the row released
/// before return; None when no row has that OID any more.
///
/// # Safety
/// `T` is the row struct of `cache`'s catalog, and `read` keeps no pointer
/// into the row.
unsafe fn cached_row<T, R>(
    cache: pg_sys::SysCacheIdentifier::Type,
    oid: pg_sys::Oid,
    read: impl FnOnce(&T) -> R,
) -> Option<R> {
    // SAFETY: a non-NULL tuple from SearchSysCache1 is valid until released,
    // and holds a T, as the caller promises.
    unsafe {
        let tuple = pg_sys::SearchSysCache1(cache as i32, pg_sys::Datum::from(oid));
        if tuple.is_null() {
            return None;
        }
        let found = read(&*pg_sys::heap_tuple_get_struct::<T>(tuple));
        pg_sys::ReleaseSysCache(tuple);
        Some(found)
    }
}

/// `namespace.name`, each part quoted as `quote_ident` would; None when the
/// namespace is gone.
fn qualified(namespace: pg_sys::Oid, name: &CStr) -> Option<String> {
    // SAFETY: get_namespace_name returns NULL or a palloc'd C string;
    // quote_qualified_identifier returns a palloc'd C string.
    unsafe {
        let namespace = owned(pg_sys::get_namespace_name(namespace))?;
        let quoted = pg_sys::quote_qualified_identifier(namespace.as_ptr(), name.as_ptr());
        owned(quoted).map(|quoted| quoted.to_string_lossy().into_owned())
    }
}

/// A C string PostgreSQL returned, copied (it lives in the current memory
/// context, which the copy does not need).
///
/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn owned(text: *mut c_char) -> Option<std::ffi::CString> {
    // SAFETY: the caller's promise.
    (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) }.to_owned())
}
