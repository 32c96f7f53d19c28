//! `POST /v2/databases/{database}/auth/reset-password`: a reset requested, by email (with a
//! CSRF cookie) or as a link for the caller (`?json=true` with an API key).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::alice_request;
use crate::support::fixture::{set_cookie, text, APP_ORIGIN, RESET};
use crate::support::process::API_KEY;
use crate::support::{tables, Fixture};

#[tokio::test]
async fn reset_request_statuses() {
    let f = Fixture::new("http_post").await;

    // 201: Alice exists (stored as Alice@Example.com); the email is queued, not sent.
    let response = f.request_reset(alice_request()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(f.outbox_count().await, 1);

    // 200: asked again right away (resend interval), and an unknown user. Same empty answer.
    assert_eq!(
        f.request_reset(alice_request()).await.status(),
        StatusCode::OK
    );
    let mut unknown = alice_request();
    unknown["email"] = json!("nobody@example.com");
    let response = f.request_reset(unknown).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(f.outbox_count().await, 1);

    // The body is JSON whatever the Content-Type says.
    let cookie = f.csrf_cookie().await;
    let mut bob = alice_request();
    bob["email"] = json!("bob@example.com");
    tables::add_user(&f.db, "bob@example.com", None).await;
    let (status, _) = text(
        f.http
            .post(f.api(RESET))
            .header("cookie", &cookie)
            .header("content-type", "text/plain")
            .body(bob.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // 400: the email check comes first, before the CSRF check (as in Nile).
    for body in [
        json!({}),
        json!({"email": ""}),
        json!({"email": 42}),
        json!(["alice@example.com"]),
    ] {
        let (status, message) = text(f.http.post(f.api(RESET)).json(&body)).await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, "Email is required"),
            "{body}"
        );
    }
    let (status, message) = text(
        f.http
            .post(f.api(RESET))
            .header("cookie", &cookie)
            .body("{not json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message, "Request body must be valid JSON");
    let mut wrong_type = alice_request();
    wrong_type["callbackUrl"] = json!(7);
    let (status, message) = text(
        f.http
            .post(f.api(RESET))
            .header("cookie", &cookie)
            .json(&wrong_type),
    )
    .await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "callbackUrl must be a string")
    );

    // 400 with the database's own message: the rules live in SQL.
    let mut untrusted = alice_request();
    untrusted["callbackUrl"] = json!("https://evil.example/steal");
    let (status, message) = text(
        f.http
            .post(f.api(RESET))
            .header("cookie", &cookie)
            .json(&untrusted),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("trusted_origins"), "{message}");
    let mut malformed = alice_request();
    malformed["redirectUrl"] = json!("not a url");
    let (status, message) = text(
        f.http
            .post(f.api(RESET))
            .header("cookie", &cookie)
            .json(&malformed),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("redirect_url"), "{message}");
    let mut missing = alice_request();
    missing.as_object_mut().unwrap().remove("callbackUrl");
    let (status, message) = text(
        f.http
            .post(f.api(RESET))
            .header("cookie", &cookie)
            .json(&missing),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("callback_url"), "{message}");

    // 404: no CSRF cookie, a forged one, one signed with another secret.
    let forged_token = "a".repeat(64);
    let other_secret = hex::encode(Sha256::digest(format!("{forged_token}another-secret")));
    for cookie in [
        None,
        Some(format!(
            "nile.csrf-token={forged_token}%7C{}",
            "0".repeat(64)
        )),
        Some(format!("nile.csrf-token={forged_token}%7C{other_secret}")),
        Some(format!("nile.csrf-token={forged_token}")),
    ] {
        let mut request = f.http.post(f.api(RESET)).json(&alice_request());
        if let Some(cookie) = &cookie {
            request = request.header("cookie", cookie);
        }
        let (status, message) = text(request).await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::NOT_FOUND, "Missing csrf"),
            "{cookie:?}"
        );
    }

    // 401: json=true without a key, with a wrong one, or with only a CSRF cookie.
    let json_url = format!("{}?json=true", f.api(RESET));
    for authorization in [
        None,
        Some("Bearer wrong-key-0123456789abcdef"),
        Some(API_KEY),
    ] {
        let mut request = f
            .http
            .post(&json_url)
            .header("cookie", &cookie)
            .json(&alice_request());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
    }
    assert_eq!(f.outbox_count().await, 2);
}

#[tokio::test]
async fn json_mode_with_api_key_returns_the_link_and_sends_nothing() {
    let f = Fixture::new("http_json").await;
    let url = format!("{}?json=true", f.api(RESET));
    let response = f
        .http
        .post(&url)
        .bearer_auth(API_KEY)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let link = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
    assert_eq!(
        link.as_str().split('?').next().unwrap(),
        format!("{APP_ORIGIN}/reset")
    );
    let query: Vec<(String, String)> = link.query_pairs().into_owned().collect();
    let keys: Vec<&str> = query.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["token", "identifier", "callbackUrl"]);
    assert_eq!(query[1].1, "alice@example.com");
    assert_eq!(
        f.outbox_count().await,
        0,
        "json=true must not queue an email"
    );

    // The link works like an emailed one.
    let response = f
        .http
        .get(format!("{}?{}", f.api(RESET), link.query().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(response.headers(), "nile.reset").is_some());

    // Unknown user: nothing happened.
    let mut unknown = alice_request();
    unknown["email"] = json!("nobody@example.com");
    let response = f
        .http
        .post(&url)
        .bearer_auth(API_KEY)
        .json(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test]
async fn uniform_status_and_the_latency_floor() {
    let f = Fixture::with_args(
        "http_uniform",
        &["--uniform-status", "--min-response-time", "400ms"],
    )
    .await;
    for email in ["nobody@example.com", "alice@example.com"] {
        let mut body = alice_request();
        body["email"] = json!(email);
        let cookie = f.csrf_cookie().await;
        let started = std::time::Instant::now();
        let (status, _) = text(
            f.http
                .post(f.api(RESET))
                .header("cookie", cookie)
                .json(&body),
        )
        .await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::CREATED, "{email}");
        assert!(took >= Duration::from_millis(400), "{email}: {took:?}");
    }
    // Only the real user got an email.
    assert_eq!(f.outbox_count().await, 1);
}
