//! The one harness of the integration tests: real PostgreSQL clusters with the installed
//! nile_reset extension (cluster.rs) on ports from ports.rs, the real `nile-reset` binary
//! (process.rs), a served database with its HTTP client (fixture.rs), the SMTP sink of
//! tests/smtp_sink.py (sink.rs), a plain LISTEN session (listen.rs), every direct read or write
//! of the extension's tables (tables.rs), a proxy that records the statements a server runs
//! (statements.rs), and the latency measurements' exclusive turn (alone.rs). Each process is stopped when its guard drops, also when a test fails.

pub mod alone;
pub mod cluster;
pub mod fixture;
pub mod listen;
pub mod ports;
pub mod process;
pub mod sink;
pub mod statements;
pub mod tables;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::Sha256;

pub use cluster::Cluster;
pub use fixture::Fixture;
pub use process::{run_to_exit, Sender, Shim};
pub use sink::{received_in, Received, Sink};
pub use tables::{count, queue_email, queue_emails, wait_drained};

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shim/ has a parent")
        .to_path_buf()
}

/// A fresh folder for one test's files, under target/it. A cluster left running there by an
/// interrupted run is stopped first.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = project_root().join("target/it").join(test);
    if dir.exists() {
        cluster::stop_leftover(&dir);
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `check` every 50 ms until it returns Some, or panics after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The signature of a `nile.csrf-token` cookie for `token` in `database`, with the test secret.
pub fn csrf_signature(database: &str, token: &str) -> String {
    csrf_signature_with(process::SECRET, database, token)
}

/// [`csrf_signature`] with another secret.
pub fn csrf_signature_with(secret: &str, database: &str, token: &str) -> String {
    hmac_signature(secret, "nile-reset csrf-token v1", &[database, token])
}

/// The signature of a `nile.reset` cookie binding `token` to `identifier` in `database`.
pub fn reset_signature(database: &str, token: &str, identifier: &str) -> String {
    hmac_signature(
        process::SECRET,
        "nile-reset reset v1",
        &[database, token, identifier],
    )
}

/// `hex(HMAC-SHA256(secret, label and fields, each after its length as 8 big-endian bytes))`.
fn hmac_signature(secret: &str, label: &str, fields: &[&str]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    for field in std::iter::once(label).chain(fields.iter().copied()) {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}
