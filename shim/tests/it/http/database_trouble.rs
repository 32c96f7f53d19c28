//! A database that is unreachable, goes away or is slow: answered, and survived.

use std::time::Duration;

use reqwest::header::CACHE_CONTROL;
use reqwest::StatusCode;
use serde_json::json;

use super::alice_request;
use crate::support::fixture::{app_database, client, cookie_pair, text, APP_ORIGIN, RESET};
use crate::support::ports::REFUSED;
use crate::support::tables::{self, TOKENS};
use crate::support::{scratch_dir, Cluster, Fixture, Shim};

#[tokio::test]
async fn a_database_unreachable_at_start_does_not_stop_the_server() {
    let shim = Shim::start(
        "http_unreachable",
        &[
            "--database",
            &format!("app=postgres://postgres@127.0.0.1:{REFUSED}/app"),
            "--db-timeout",
            "1s",
        ],
    );
    let (status, _) = text(client().get(shim.admin("/healthz"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        shim.log().contains("database unreachable at start"),
        "{}",
        shim.log()
    );
}

#[tokio::test]
async fn database_outage_is_answered_and_survived() {
    let cluster = Cluster::start(&scratch_dir("http-outage"));
    let name = "http_outage";
    let db = app_database(&cluster, name).await;
    tables::add_user(&db, "bob@example.com", None).await;
    tables::add_user(&db, "carol@example.com", None).await;
    drop(db);
    let shim = Shim::start(
        name,
        &[
            "--database",
            &format!("{name}={}", cluster.url(name)),
            "--db-timeout",
            "2s",
        ],
    );
    let http = client();
    let api = |route: &str| shim.url(&format!("/v2/databases/{name}{route}"));
    let csrf = {
        let response = http.get(api("/auth/csrf")).send().await.unwrap();
        cookie_pair(response.headers(), "nile.csrf-token").unwrap()
    };
    let post = |email: &str| {
        let mut body = alice_request();
        body["email"] = json!(email);
        http.post(api(RESET))
            .header("cookie", csrf.clone())
            .json(&body)
    };
    assert_eq!(
        post("alice@example.com").send().await.unwrap().status(),
        StatusCode::CREATED
    );

    cluster.stop();
    let (status, message) = text(post("bob@example.com")).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Unable to process request")
    );
    let (status, _) = text(http.get(shim.admin("/healthz"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let metrics = http
        .get(shim.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains(r#"nile_reset_database_errors_total{database="http_outage"} 0"#),
        "{metrics}"
    );
    assert!(
        !shim.log().contains("postgres://"),
        "the log must not contain the DSN"
    );

    cluster.restart();
    assert_eq!(
        post("carol@example.com").send().await.unwrap().status(),
        StatusCode::CREATED
    );
    let (status, _) = text(http.get(shim.admin("/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn slow_database_gets_503_after_the_request_timeout() {
    let f = Fixture::with_args("http_timeout", &["--request-timeout", "1"]).await;
    let validate = format!(
        "{}?token=t&identifier=alice%40example.com&callbackUrl={APP_ORIGIN}",
        f.api(RESET)
    );
    // Hold a lock verify_password_token needs, so the request waits on the database.
    f.db.batch_execute(&format!(
        "BEGIN; LOCK TABLE {TOKENS} IN ACCESS EXCLUSIVE MODE"
    ))
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let response = f.http.get(&validate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A clear text, not the empty body a proxy's 503 would have.
    assert_eq!(
        response.text().await.unwrap(),
        "The request took too long and was cancelled; try again"
    );
    // The server cancels the abandoned statement at the same deadline (statement_timeout),
    // although the lock is still held. Counted in this database only: other tests' servers
    // share the cluster.
    let observer = Cluster::shared().connect("http_timeout").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let running: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'nile-reset' AND state = 'active'
                   AND datname = current_database()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if running == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timed-out statement still runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f.db.batch_execute("COMMIT").await.unwrap();

    let response = f.http.get(&validate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
