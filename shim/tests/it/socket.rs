//! Same-host deployments reach PostgreSQL through its Unix-domain socket (Debian's default).
//! libpq never uses TLS there, whatever the sslmode: neither do `serve` and `send`, against a
//! cluster that listens on nothing else.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::cluster::Cluster;
use crate::support::process::{Sender, Shim};
use crate::support::sink::Sink;
use crate::support::{scratch_dir, tables, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_send_reach_a_cluster_that_listens_only_on_its_socket() {
    let dir = scratch_dir("socket-only");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    db.batch_execute("SELECT auth.add_trusted_origin('http://localhost:3000')")
        .await
        .unwrap();
    tables::add_user(&db, "alice@example.com", Some("Alice")).await;
    tables::add_user(&db, "bob@example.com", Some("Bob")).await;
    db.batch_execute("ALTER SYSTEM SET listen_addresses = ''")
        .await
        .unwrap();
    drop(db);
    cluster.stop();
    cluster.restart();
    assert!(
        tokio_postgres::connect(&cluster.url("app"), tokio_postgres::NoTls)
            .await
            .is_err(),
        "the cluster still listens on TCP"
    );

    // Every sslmode that does not need a certificate check: over a socket all mean plain.
    for sslmode in ["disable", "prefer", "require"] {
        let dsn = format!("{}?sslmode={sslmode}", cluster.socket_url("app"));
        let shim = Shim::start(
            &format!("socket-serve-{sslmode}"),
            &["--database", &format!("app={dsn}")],
        );
        let http = reqwest::Client::new();
        let health = http.get(shim.admin("/healthz")).send().await.unwrap();
        assert_eq!(
            health.status(),
            StatusCode::OK,
            "sslmode={sslmode}: {}",
            shim.log()
        );
        let response = http
            .post(shim.url("/v2/databases/app/auth/reset-password"))
            .header(
                "authorization",
                format!("Bearer {}", crate::support::process::API_KEY),
            )
            .json(&json!({
                "email": "alice@example.com",
                "callbackUrl": "http://localhost:3000/done",
                "redirectUrl": "http://localhost:3000/reset"
            }))
            .query(&[("json", "true")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "sslmode={sslmode}: {}",
            shim.log()
        );
    }

    // The sender drains the outbox through the socket too.
    let sink = Sink::start(&dir.join("mail"), 0, &[]);
    let smtp_url = sink.url();
    let admin_db = tokio_postgres::connect(
        &format!(
            "host={} port={} user=postgres dbname=app",
            dir.join("pgdata").display(),
            cluster.port
        ),
        tokio_postgres::NoTls,
    )
    .await
    .map(|(client, connection)| {
        tokio::spawn(connection);
        client
    })
    .unwrap();
    let _sender = Sender::send(
        dir.join("sender.log"),
        &format!("{}?sslmode=require", cluster.socket_url("app")),
        &["--transport", "smtp", "--poll-interval", "200ms"],
        &[("NILE_RESET_SMTP_URL", &smtp_url)],
    );
    // Bob: Alice was just given links, and the resend interval holds her emails back.
    let created: bool = admin_db
        .query_one(
            "SELECT created FROM auth.generate_password_token(
                 'bob@example.com', 'http://localhost:3000/done', 'http://localhost:3000/reset')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(created, "no email was queued");
    let received = wait_for(
        Duration::from_secs(15),
        "the reset email over SMTP",
        || async {
            let received = sink.received();
            (!received.is_empty()).then_some(received)
        },
    )
    .await;
    assert_eq!(received[0].rcpt_tos, ["bob@example.com"]);
}
