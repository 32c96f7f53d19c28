//! What the stored configuration points at, by OID: a table's quoted,
//! schema-qualified name and its owner, a function's name and argument
//! type. Read from PostgreSQL's catalog caches, which a session fills anyway
//! for the tables its statements use. (A join over pg_class, pg_namespace
//! and pg_proc did this until 0.3.0's per-connection measurements: planning
//! it was most of a new session's first call.)

use std::ffi::{c_char, CStr};

use pgrx::pg_sys;

/// A relation's quoted, schema-qualified name (as `quote_ident(nspname) ||
/// '.' || quote_ident(relname)` spells it) and its owner; None when no
/// relation has that OID any more.
pub(super) fn relation(oid: pg_sys::Oid) -> Option<(String, pg_sys::Oid)> {
    // SAFETY: the tuple is released before return and nothing is read from it
    // afterwards; relname is a NUL-terminated NameData.
    let (namespace, name, owner) = unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::RELOID as i32,
            pg_sys::Datum::from(oid),
        );
        if tuple.is_null() {
            return None;
        }
        let class = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple);
        let found = (
            (*class).relnamespace,
            CStr::from_ptr((*class).relname.data.as_ptr()).to_owned(),
            (*class).relowner,
        );
        pg_sys::ReleaseSysCache(tuple);
        found
    };
    Some((qualified(namespace, &name)?, owner))
}

/// A function's quoted, schema-qualified name and its first argument's type
/// as `format_type(oid, NULL)` spells it (None: it takes no argument); None
/// when no function has that OID any more.
pub(super) fn function(oid: pg_sys::Oid) -> Option<(String, Option<String>)> {
    // SAFETY: every pointer comes from the lsyscache function that returns it
    // and is checked for NULL before it is read; argtypes has nargs entries.
    unsafe {
        let name = owned(pg_sys::get_func_name(oid))?;
        let name = qualified(pg_sys::get_func_namespace(oid), &name)?;
        let mut argtypes: *mut pg_sys::Oid = std::ptr::null_mut();
        let mut nargs: i32 = 0;
        pg_sys::get_func_signature(oid, &mut argtypes, &mut nargs);
        let first = (nargs > 0 && !argtypes.is_null())
            .then(|| owned(pg_sys::format_type_be(*argtypes)))
            .flatten()
            .map(|name| name.to_string_lossy().into_owned());
        Some((name, first))
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
