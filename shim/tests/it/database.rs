//! What both subcommands share through src/database.rs, through the real binary: the password
//! from PGPASSWORD when the URL has none, and waiting for a database that is not up yet.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::ports::REFUSED;
use crate::support::{run_to_exit, scratch_dir, Cluster, Sender, Shim};

const PASSWORD: &str = "pgpassword-s3cret";

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_send_take_the_password_from_pgpassword() {
    let dir = scratch_dir("pgpassword");
    // A cluster of its own: the test changes how it authenticates.
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    db.batch_execute(&format!(
        "CREATE ROLE app_user LOGIN SUPERUSER PASSWORD '{PASSWORD}'"
    ))
    .await
    .unwrap();
    cluster.require_password("app_user").await;
    let url = format!("postgres://app_user@127.0.0.1:{}/app", cluster.port);
    let outbox = dir.join("eml");
    let send_flags = ["--outbox-dir", outbox.to_str().unwrap()];

    // Without it the server asks for a password there is none of, so the check cannot pass by
    // accident; that is final, not a reason to wait.
    let (status, output) = run_to_exit(
        "send",
        &send_flags,
        &[("NILE_RESET_DATABASE_URL", url.as_str())],
    );
    assert!(!status.success(), "{output}");
    assert!(output.contains("password missing"), "{output}");

    let sender = Sender::send(
        dir.join("sender.log"),
        &url,
        &send_flags,
        &[("PGPASSWORD", PASSWORD)],
    );
    sender
        .wait_for_log("sender started", 1, Duration::from_secs(10))
        .await;

    let database = format!("app={url}");
    let health = |shim: &Shim| {
        let url = shim.admin("/healthz");
        async move { reqwest::get(url).await.unwrap().status() }
    };
    let without = Shim::start("pgpassword-without", &["--database", &database]);
    assert_eq!(health(&without).await, StatusCode::SERVICE_UNAVAILABLE);
    let with = Shim::start_with_env(
        "pgpassword-with",
        &["--database", &database],
        &[("PGPASSWORD", PASSWORD)],
    );
    assert_eq!(health(&with).await, StatusCode::OK);

    for log in [sender.log_text(), without.log(), with.log()] {
        assert!(!log.contains(PASSWORD), "a log shows the password:\n{log}");
    }
}

/// A database that cannot be reached yet is waited for (it may be starting), not a reason to
/// exit; SIGTERM still stops the waiting sender at once.
#[tokio::test(flavor = "multi_thread")]
async fn send_waits_for_an_unreachable_database_until_stopped() {
    let dir = scratch_dir("unreachable");
    let outbox = dir.join("eml");
    let mut sender = Sender::send(
        dir.join("sender.log"),
        &format!("postgres://postgres@127.0.0.1:{REFUSED}/app"),
        &["--outbox-dir", outbox.to_str().unwrap()],
        &[],
    );
    sender
        .wait_for_log(
            "the database is unreachable; trying again",
            2,
            Duration::from_secs(10),
        )
        .await;
    sender.terminate();
    let status = sender
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("the waiting sender did not stop on SIGTERM");
    assert!(status.success(), "{status}");
}
