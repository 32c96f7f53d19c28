//! The per-backend cache of what every call reads and hardly anything
//! changes: the user directory, the trusted origins and the email templates.
//!
//! It is invalidated the way PostgreSQL invalidates its own caches. A
//! statement-level trigger on each configuration table
//! (`nile_reset.configuration_changed`) queues a relcache invalidation of
//! that table; PostgreSQL delivers it to every backend once the change
//! commits (and to the changing session itself at its next command, and
//! again if it rolls back). The relcache and syscache callbacks registered
//! here then move the cache's generation on; so do changes to the tables,
//! schemas and functions the directory names (rename, drop, owner).
//!
//! Why it is never stale: every call first takes in the pending
//! invalidations, then, if something moved, reloads under a snapshot taken
//! after that. A commit becomes visible before its invalidation is sent, so
//! a change whose invalidation was taken in is in what the reload reads, and
//! one whose invalidation was not is taken in by the next call. Under
//! REPEATABLE READ or SERIALIZABLE a call reads with the transaction's own
//! snapshot, which may predate a change already taken in: there nothing is
//! cached, each call reads the tables.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::Hash;

use pgrx::pg_sys;
use pgrx::prelude::*;

thread_local! {
    /// Moves on whenever something the cache holds may have changed.
    static GENERATION: Cell<u64> = const { Cell::new(1) };
    /// A load is running: any invalidation taken in meanwhile counts, since
    /// the load may have read around it.
    static LOADING: Cell<bool> = const { Cell::new(false) };
    /// Relations whose invalidation moves the generation: the
    /// configuration tables and the tables the directory names.
    static WATCHED: RefCell<Vec<pg_sys::Oid>> = const { RefCell::new(Vec::new()) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// More relations than any directory names: beyond it, forget them all
/// (and move on, so nothing loaded under the forgotten ones is kept).
const MAX_WATCHED: usize = 64;

/// A value loaded at some generation.
pub struct Cached<T> {
    generation: u64,
    value: T,
}

/// A cache slot: `get` answers from it while the generation holds, and
/// otherwise loads (keeping the result only when that is safe).
pub struct Slot<T: Clone> {
    cell: RefCell<Option<Cached<T>>>,
}

impl<T: Clone> Slot<T> {
    pub const fn new() -> Self {
        Slot {
            cell: RefCell::new(None),
        }
    }

    /// The cached value, or `load()`'s. `load` runs with no borrow of the
    /// slot held (it runs SPI, which may take in invalidations).
    pub fn get(&self, load: impl FnOnce() -> T) -> T {
        let now = GENERATION.with(Cell::get);
        if let Some(cached) = self.cell.borrow().as_ref() {
            if cached.generation == now {
                return cached.value.clone();
            }
        }
        let (value, keep_at) = loaded(load);
        if let Some(generation) = keep_at {
            *self.cell.borrow_mut() = Some(Cached {
                generation,
                value: value.clone(),
            });
        }
        value
    }
}

/// A cache of values by key (templates by name and locale), all loaded at
/// one generation; at most `MAX_KEYS` of them.
pub struct Map<K, V> {
    cell: RefCell<(u64, HashMap<K, V>)>,
}

const MAX_KEYS: usize = 256;

impl<K: Eq + Hash + Clone, V: Clone> Map<K, V> {
    pub fn new() -> Self {
        Map {
            cell: RefCell::new((0, HashMap::new())),
        }
    }

    /// The value cached for `key`, or `load()`'s (see `Slot::get`).
    pub fn get(&self, key: &K, load: impl FnOnce() -> V) -> V {
        let now = GENERATION.with(Cell::get);
        {
            let mut cached = self.cell.borrow_mut();
            if cached.0 != now {
                *cached = (now, HashMap::new());
            }
            if let Some(value) = cached.1.get(key) {
                return value.clone();
            }
        }
        let (value, keep_at) = loaded(load);
        if let Some(generation) = keep_at {
            let mut cached = self.cell.borrow_mut();
            if cached.0 != generation || cached.1.len() >= MAX_KEYS {
                *cached = (generation, HashMap::new());
            }
            cached.1.insert(key.clone(), value.clone());
        }
        value
    }
}

/// Runs `load` under a snapshot taken now; returns its value and the
/// generation it may be kept at (None: use it for this call only).
fn loaded<T>(load: impl FnOnce() -> T) -> (T, Option<u64>) {
    // SAFETY: reads a backend-global set by the transaction's start.
    let transaction_snapshot =
        unsafe { pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 };
    if transaction_snapshot {
        return (load(), None);
    }
    let before = GENERATION.with(Cell::get);
    LOADING.with(|l| l.set(true));
    // SAFETY: a snapshot pushed here is popped below; on an error the
    // (sub)transaction's abort pops it.
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot()) };
    let value = load();
    unsafe { pg_sys::PopActiveSnapshot() };
    LOADING.with(|l| l.set(false));
    let after = GENERATION.with(Cell::get);
    (value, (after == before).then_some(after))
}

/// To be called at the start of every call that uses the cache: registers
/// the callbacks once per backend and takes in pending invalidations.
pub fn begin_call() {
    if !REGISTERED.with(Cell::get) {
        // SAFETY: plain function pointers registered once per backend, as
        // PostgreSQL's own caches do; they never raise.
        unsafe {
            pg_sys::CacheRegisterRelcacheCallback(Some(relation_changed), pg_sys::Datum::from(0));
            for cache in [
                pg_sys::SysCacheIdentifier::NAMESPACEOID,
                pg_sys::SysCacheIdentifier::PROCOID,
            ] {
                pg_sys::CacheRegisterSyscacheCallback(
                    cache as _,
                    Some(catalog_changed),
                    pg_sys::Datum::from(0),
                );
            }
        }
        REGISTERED.with(|r| r.set(true));
        // Whatever a load was doing when it failed is over.
        LOADING.with(|l| l.set(false));
        invalidate();
    }
    // A load that raised left LOADING on: only more reloads, never less.
    LOADING.with(|l| l.set(false));
    // SAFETY: what PostgreSQL does at every lock acquisition.
    unsafe { pg_sys::AcceptInvalidationMessages() };
}

/// Invalidations of `relation` move the generation from now on.
pub fn watch(relation: pg_sys::Oid) {
    let overflowed = WATCHED.with(|watched| {
        let mut watched = watched.borrow_mut();
        if watched.contains(&relation) {
            return false;
        }
        if watched.len() >= MAX_WATCHED {
            watched.clear();
            watched.push(relation);
            return true;
        }
        watched.push(relation);
        false
    });
    if overflowed {
        invalidate();
    }
}

/// `nile_reset.<name>`'s oid, watched; InvalidOid when there is none (the
/// load that follows then raises as it always did).
pub fn watch_own_table(name: &std::ffi::CStr) -> pg_sys::Oid {
    // SAFETY: catalog-cache lookups by NUL-terminated names; they raise nothing.
    let relation = unsafe {
        let schema = pg_sys::get_namespace_oid(c"nile_reset".as_ptr(), true);
        if schema == pg_sys::InvalidOid {
            return pg_sys::InvalidOid;
        }
        pg_sys::get_relname_relid(name.as_ptr(), schema)
    };
    if relation != pg_sys::InvalidOid {
        watch(relation);
    }
    relation
}

fn invalidate() {
    GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

/// Relcache callback. InvalidOid means "every relation" (the invalidation
/// queue overflowed, say).
unsafe extern "C-unwind" fn relation_changed(_arg: pg_sys::Datum, relation: pg_sys::Oid) {
    let relevant = relation == pg_sys::InvalidOid
        || LOADING.with(Cell::get)
        || WATCHED.with(|watched| {
            watched
                .try_borrow()
                .map_or(true, |watched| watched.contains(&relation))
        });
    if relevant {
        invalidate();
    }
}

/// Syscache callback for schemas and functions: the directory caches the
/// quoted names of its tables and of its `on_password_reset` function.
unsafe extern "C-unwind" fn catalog_changed(
    _arg: pg_sys::Datum,
    _cache: std::ffi::c_int,
    _hash: u32,
) {
    invalidate();
}

#[pg_schema]
pub mod nile_reset {
    use pgrx::prelude::*;

    /// Statement-level trigger on the configuration tables: tells every
    /// backend's cache (src/cache.rs) that the table changed, once the
    /// change commits.
    #[pg_trigger]
    fn configuration_changed<'a>(
        trigger: &'a PgTrigger<'a>,
    ) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
        let relation = trigger.relid()?;
        // SAFETY: queues an invalidation message for a relation that exists
        // (the trigger's own); it is sent when the transaction commits.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relation) };
        Ok(None)
    }
}
