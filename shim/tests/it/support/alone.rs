//! Latency measurements run alone: on a 2-core machine another test's processes (or its
//! initdb) would stretch what they measure. A measuring test takes [`alone`] first; it then
//! waits until the `nile-reset` processes and PostgreSQL clusters of every other test have
//! ended, and no other test starts one until it is done. Each of them holds a [`Running`]
//! (see process.rs and cluster.rs), so no other test has to do anything for this.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

struct State {
    /// Processes and clusters of tests other than the measuring one.
    running: usize,
    /// The thread running the measuring test (`#[tokio::test]` runs a test's body on its own
    /// thread, also with the multi-thread flavor, whose workers only run spawned tasks).
    alone: Option<ThreadId>,
}

static STATE: Mutex<State> = Mutex::new(State {
    running: 0,
    alone: None,
});
static CHANGED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    // A test that panicked while holding the lock changed nothing half-way.
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wait(state: MutexGuard<'static, State>) -> MutexGuard<'static, State> {
    CHANGED.wait(state).unwrap_or_else(PoisonError::into_inner)
}

/// The measuring test's turn, until dropped.
pub struct Alone(());

/// Waits until no other test runs a process or cluster and no other measurement runs.
pub fn alone() -> Alone {
    let mut state = state();
    while state.alone.is_some() || state.running > 0 {
        state = wait(state);
    }
    state.alone = Some(thread::current().id());
    Alone(())
}

impl Drop for Alone {
    fn drop(&mut self) {
        state().alone = None;
        CHANGED.notify_all();
    }
}

/// Held by a process or cluster for its lifetime.
pub struct Running {
    counted: bool,
}

/// Waits while another test measures; the measuring test's own processes are what it
/// measures, and start at once.
pub fn running() -> Running {
    let mut state = state();
    let me = thread::current().id();
    if state.alone == Some(me) {
        return Running { counted: false };
    }
    while state.alone.is_some() {
        state = wait(state);
    }
    state.running += 1;
    Running { counted: true }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.counted {
            state().running -= 1;
            CHANGED.notify_all();
        }
    }
}
