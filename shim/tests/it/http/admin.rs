//! The admin server (`--admin-listen`): `/healthz` and `/metrics`, kept off the public port.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fixture::{text, APP_ORIGIN, RESET};
use crate::support::Fixture;

#[tokio::test]
async fn health_and_metrics() {
    let f = Fixture::new("http_ops").await;
    // Not on the public port: they name databases and show the rate of resets.
    for path in ["/healthz", "/metrics"] {
        let (status, _) = text(f.http.get(f.shim.url(path))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // The version the database has installed, which must be the one the binary is built for.
    let response = f.http.get(f.shim.admin("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let health: Value = response.json().await.unwrap();
    assert_eq!(
        health,
        json!({"status": "ok", "extension_version": env!("CARGO_PKG_VERSION")})
    );

    let secret_query =
        format!("token=s3cr3t-in-query&identifier=alice%40example.com&callbackUrl={APP_ORIGIN}");
    f.http
        .get(format!("{}?{secret_query}", f.api(RESET)))
        .send()
        .await
        .unwrap();
    f.http
        .get(f.shim.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    let response = f.http.get(f.shim.admin("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let metrics = response.text().await.unwrap();
    assert!(metrics.contains(
        r#"nile_reset_http_requests_total{method="GET",route="/v2/databases/{database}/auth/reset-password",status="200"} 1"#
    ), "{metrics}");
    // /no/such/route, and the public /healthz and /metrics.
    assert!(
        metrics.contains(r#"route="unmatched",status="404"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("nile_reset_http_request_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"nile_reset_database_errors_total{database="http_ops"} 0"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("s3cr3t") && !metrics.contains("/no/such/route"),
        "{metrics}"
    );
}

#[tokio::test]
async fn health_fails_while_the_extension_is_another_version() {
    let f = Fixture::new("http_version_health").await;
    let health = || async {
        let response = f.http.get(f.shim.admin("/healthz")).send().await.unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(health().await.0, StatusCode::OK);
    let db = &f.db;
    let set_version = |version: &'static str| async move {
        db.execute(
            "UPDATE pg_extension SET extversion = $1 WHERE extname = 'nile_reset'",
            &[&version],
        )
        .await
    };
    set_version("0.0.9").await.unwrap();
    assert_eq!(
        health().await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "built_for": env!("CARGO_PKG_VERSION")})
        )
    );
    assert!(
        f.shim.log().contains("0.0.9"),
        "the log says what was found"
    );
    set_version(env!("CARGO_PKG_VERSION")).await.unwrap();
    assert_eq!(health().await.0, StatusCode::OK);
}
