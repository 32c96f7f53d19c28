//! The one harness of the integration tests: real PostgreSQL clusters with the installed
//! nile_reset extension (cluster.rs), the real `nile-reset` binary (process.rs), the SMTP sink
//! of tests/smtp_sink.py (sink.rs), a plain LISTEN session (listen.rs), and every direct read
//! or write of the extension's tables (tables.rs). Each process is stopped when its guard drops, also when a test fails.

// Each test binary uses its own part of the harness.
#![allow(dead_code, unused_imports)]

pub mod cluster;
pub mod listen;
pub mod process;
pub mod sink;
pub mod tables;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use cluster::Cluster;
pub use process::{run_to_exit, Process, Sender, Shim};
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

/// What `hex(sha256(parts ++ SECRET))` must be, for the test secret: the signature Nile puts in
/// its cookies.
pub fn signature(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.update(process::SECRET.as_bytes());
    hex::encode(hasher.finalize())
}
