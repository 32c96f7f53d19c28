//! `GET /v2/databases/{database}/auth/csrf`: the token, its signed cookie, when the cookie is
//! `__Secure-`, and what a cookie is bound to.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::alice_request;
use crate::support::fixture::{app_database, cookie_pair, set_cookie, text, APP_ORIGIN, RESET};
use crate::support::{csrf_signature, Cluster, Fixture};

#[tokio::test]
async fn csrf_cookie_is_signed_and_secure_when_asked() {
    let f = Fixture::new("http_csrf").await;
    let response = f.http.get(f.api("/auth/csrf")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(response.headers(), "nile.csrf-token").expect("Set-Cookie");
    let body: Value = response.json().await.unwrap();
    let token = body["csrfToken"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(
        cookie,
        format!(
            "nile.csrf-token={token}%7C{}; Path=/; HttpOnly; SameSite=Lax",
            csrf_signature("http_csrf", token)
        )
    );

    for (header, value) in [
        ("nile-secure-cookies", "true"),
        ("nile-origin", "https://app.example.com"),
    ] {
        let response = f
            .http
            .get(f.api("/auth/csrf"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        let cookie =
            set_cookie(response.headers(), "__Secure-nile.csrf-token").expect("secure cookie");
        assert!(cookie.ends_with("; Secure"), "{cookie}");
    }
    // The explicit header wins over an https origin.
    let response = f
        .http
        .get(f.api("/auth/csrf"))
        .header("nile-secure-cookies", "false")
        .header("nile-origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(set_cookie(response.headers(), "nile.csrf-token").is_some());
}

#[tokio::test]
async fn public_https_url_turns_secure_cookies_on() {
    let f = Fixture::with_args(
        "http_public_url",
        &["--public-url", "https://auth.example.com"],
    )
    .await;
    let response = f.http.get(f.api("/auth/csrf")).send().await.unwrap();
    assert!(set_cookie(response.headers(), "__Secure-nile.csrf-token").is_some());
    let secure_cookie = cookie_pair(response.headers(), "__Secure-nile.csrf-token").unwrap();

    // A secure request reads the __Secure- cookie: the plain name does not count.
    let plain = secure_cookie.trim_start_matches("__Secure-").to_owned();
    let post = |cookie: String| {
        f.http
            .post(f.api(RESET))
            .header("cookie", cookie)
            .json(&alice_request())
    };
    assert_eq!(
        post(plain).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(secure_cookie).send().await.unwrap().status(),
        StatusCode::CREATED
    );

    // An http nile-origin header overrides the public URL.
    let response = f
        .http
        .get(f.api("/auth/csrf"))
        .header("nile-origin", APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert!(set_cookie(response.headers(), "nile.csrf-token").is_some());
}

#[tokio::test]
async fn csrf_cookies_are_bound_to_their_database_and_purpose() {
    let cluster = Cluster::shared();
    app_database(cluster, "http_csrf_other").await;
    let other = format!("http_csrf_other={}", cluster.url("http_csrf_other"));
    let f = Fixture::with_args("http_csrf_bound", &["--database", &other]).await;
    let post = |url: String, cookie: &str, body: Value| {
        f.http.post(url).header("cookie", cookie).json(&body)
    };
    let other_reset = f
        .shim
        .url("/v2/databases/http_csrf_other/auth/reset-password");

    // A cookie minted for this database is refused by the other one.
    let cookie = f.csrf_cookie().await;
    let (status, message) = text(post(other_reset.clone(), &cookie, alice_request())).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::NOT_FOUND, "Missing csrf")
    );
    assert_eq!(
        post(f.api(RESET), &cookie, alice_request())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );

    // A genuine reset cookie for (token, identifier), offered as the CSRF cookie of the token
    // and identifier joined (the same signature under Nile's scheme), is refused.
    let link = f.emailed_link().await;
    let validate_url = format!("{}?{}", f.api(RESET), link.query().unwrap());
    let response = f.http.get(&validate_url).send().await.unwrap();
    let reset = cookie_pair(response.headers(), "nile.reset").expect("reset cookie");
    let (token, signature) = reset["nile.reset=".len()..].split_once("%7C").unwrap();
    let as_csrf = format!("nile.csrf-token={token}alice%40example.com%7C{signature}");
    let (status, _) = text(post(f.api(RESET), &as_csrf, alice_request())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A submitted csrfToken must be the cookie's.
    let response = f.http.get(f.api("/auth/csrf")).send().await.unwrap();
    let cookie = cookie_pair(response.headers(), "nile.csrf-token").unwrap();
    let token = response.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = alice_request();
    body["csrfToken"] = json!("0".repeat(64));
    let (status, _) = text(post(f.api(RESET), &cookie, body.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    body["csrfToken"] = json!(token);
    let (status, _) = text(post(f.api(RESET), &cookie, body)).await;
    // Accepted (200: a link was sent moments ago).
    assert_eq!(status, StatusCode::OK);
}
