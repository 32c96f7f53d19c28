//! The ports the tests choose themselves: PostgreSQL cannot listen on port 0, `nile-reset
//! send --metrics-addr` does not say which port it got, and a test may need a port where
//! nothing listens yet. Every other server (`nile-reset serve` and its admin server, the SMTP
//! sink) binds port 0 and prints the port it got.

use std::net::TcpListener;
use std::ops::Range;
use std::sync::atomic::{AtomicU16, Ordering};

/// Below Linux's ephemeral range (32768-60999), so that no client socket can take a port
/// between its choice and its use (a restarted cluster takes its port again), and clear of
/// the ports scripts/common.sh gives the scripts (28815 and up, plus 100 per PostgreSQL major
/// after 15).
const BLOCK: Range<u16> = 30000..30100;

static NEXT: AtomicU16 = AtomicU16::new(BLOCK.start);

/// A port of the block that no other test of this run got and that is free now (a program
/// outside the tests may hold some).
pub fn free() -> u16 {
    loop {
        let port = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(
            BLOCK.contains(&port),
            "the tests used up their ports {BLOCK:?}"
        );
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A port nothing listens on: connections to it are refused at once.
pub const REFUSED: u16 = 1;
