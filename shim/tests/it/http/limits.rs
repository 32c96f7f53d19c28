//! Limits on requests (body size and shape, the per-address rate), unknown databases and
//! routes, and the headers every answer carries.

use reqwest::header::CACHE_CONTROL;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::json;

use super::alice_request;
use crate::support::fixture::{text, APP_ORIGIN, RESET};
use crate::support::Fixture;

#[tokio::test]
async fn limits_headers_and_unknown_routes() {
    let f = Fixture::new("http_limits").await;
    let csrf = f.csrf_cookie().await;
    let big = json!({"email": "alice@example.com", "padding": "x".repeat(20 * 1024)});
    let (status, message) =
        text(f.http.post(f.api(RESET)).header("cookie", &csrf).json(&big)).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
    );
    let (status, _) = text(f.http.put(f.api(RESET)).json(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A repeated key: a proxy reading the first would see another email than the last.
    let repeated = format!(
        r#"{{"email": "alice@example.com", "callbackUrl": "{APP_ORIGIN}/", "email": "eve@example.com"}}"#
    );
    let (status, message) = text(
        f.http
            .post(f.api(RESET))
            .header("cookie", &csrf)
            .header("content-type", "application/json")
            .body(repeated),
    )
    .await;
    assert_eq!(
        (status, message.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Request body must not repeat a key"
        )
    );
    assert_eq!(f.outbox_count().await, 0);

    let elsewhere = f.shim.url("/v2/databases/not_configured/auth");
    for request in [
        f.http.get(format!("{elsewhere}/csrf")),
        f.http
            .post(format!("{elsewhere}/reset-password"))
            .header("cookie", &csrf)
            .json(&alice_request()),
        f.http.get(format!(
            "{elsewhere}/reset-password?token=t&identifier=i&callbackUrl=http://x"
        )),
        f.http
            .put(format!("{elsewhere}/reset-password"))
            .json(&json!({})),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(response.text().await.unwrap(), "Unknown database");
    }
    let (status, _) = text(f.http.get(f.shim.url("/nothing/here"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Security headers on successes and failures alike.
    for request in [
        f.http.get(f.api("/auth/csrf")),
        f.http.post(f.api(RESET)).json(&json!({})),
        f.http.get(f.api(RESET)),
        f.http.put(f.api(RESET)).json(&json!({})),
    ] {
        let response = request.send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers[CACHE_CONTROL], "no-store", "{}", response.url());
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }

    let (status, document) = text(f.http.get(f.shim.url("/openapi.yaml"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        document,
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
    );
}

#[tokio::test]
async fn an_attacker_loop_is_limited_by_address_while_the_user_resets() {
    let f = Fixture::with_settings(
        "http_rate",
        &[
            "--rate-limit-per-minute",
            "4",
            "--client-ip-header",
            "X-Forwarded-For",
        ],
        &[],
        &[
            "nile_reset.max_failed_attempts = 5",
            "nile_reset.failure_block = '1h'",
            "nile_reset.max_failure_block = '1d'",
        ],
    )
    .await;
    let link = f.request_link("alice@example.com").await;

    // The attacker's wrong guesses, from one address behind the trusted proxy (the last entry
    // of the header counts, not what the client put before it).
    let mut answers = Vec::new();
    for round in 0..40 {
        let response = f
            .http
            .get(f.api(RESET))
            .header("x-forwarded-for", format!("10.0.0.{round}, 203.0.113.9"))
            .query(&[
                ("token", "0".repeat(64).as_str()),
                ("identifier", "alice@example.com"),
                ("callbackUrl", &format!("{APP_ORIGIN}/signed-in")),
            ])
            .send()
            .await
            .unwrap();
        answers.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=15).contains(&retry_after), "{retry_after}");
            assert_eq!(response.text().await.unwrap(), "Too many requests");
        }
    }
    let served = answers.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(served <= 4 && served + limited == 40, "{answers:?}");

    // The user, from another address, still gets through.
    f.finish_reset(&link, "alice@example.com").await;
}

/// The statuses of `times` requests made by `request`; each 429 must say why and when to retry.
async fn statuses(request: impl Fn() -> RequestBuilder, times: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..times {
        let response = request().send().await.unwrap();
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(response.text().await.unwrap(), "Too many requests");
        }
        statuses.push(status);
    }
    statuses
}

#[tokio::test]
async fn the_csrf_token_and_the_password_change_are_rate_limited() {
    let f = Fixture::with_args(
        "http_rate_routes",
        &[
            "--rate-limit-per-minute",
            "2",
            "--client-ip-header",
            "X-Forwarded-For",
        ],
    )
    .await;
    let csrf = || {
        f.http
            .get(f.api("/auth/csrf"))
            .header("x-forwarded-for", "192.0.2.1")
    };
    assert_eq!(
        statuses(csrf, 3).await,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Another client, so that its bucket is full: an incomplete body is refused (400) only
    // while within the limit.
    let change = || {
        f.http
            .put(f.api(RESET))
            .header("x-forwarded-for", "192.0.2.2")
            .json(&json!({}))
    };
    assert_eq!(
        statuses(change, 3).await,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test]
async fn ipv6_clients_are_limited_by_their_network() {
    // A link check without its parameters: 400 once admitted, before the database is asked.
    async fn check(f: &Fixture, client: &str) -> StatusCode {
        let request = f.http.get(f.api(RESET)).header("x-forwarded-for", client);
        request.send().await.unwrap().status()
    }
    let args = |prefix| {
        [
            "--rate-limit-per-minute",
            "2",
            "--client-ip-header",
            "X-Forwarded-For",
            "--ipv6-prefix-length",
            prefix,
        ]
    };
    let f = Fixture::with_args("http_rate_ipv6", &args("64")).await;
    assert_eq!(check(&f, "2001:db8:1:2::1").await, StatusCode::BAD_REQUEST);
    assert_eq!(check(&f, "2001:db8:1:2::1").await, StatusCode::BAD_REQUEST);
    // The same /64: the same bucket, used up.
    assert_eq!(
        check(&f, "2001:db8:1:2:ffff:ffff:ffff:fffe").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The next /64: a bucket of its own.
    assert_eq!(check(&f, "2001:db8:1:3::1").await, StatusCode::BAD_REQUEST);

    // With /128, every address is a client of its own.
    let f = Fixture::with_args("http_rate_ipv6_128", &args("128")).await;
    assert_eq!(check(&f, "2001:db8:1:2::1").await, StatusCode::BAD_REQUEST);
    assert_eq!(check(&f, "2001:db8:1:2::1").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        check(&f, "2001:db8:1:2:ffff:ffff:ffff:fffe").await,
        StatusCode::BAD_REQUEST
    );
}
