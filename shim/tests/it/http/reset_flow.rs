//! A whole reset through the three methods of the reset route, and what the server's log
//! keeps of it.

use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::alice_request;
use crate::support::fixture::{set_cookie, text, APP_ORIGIN, NEW_PASSWORD, RESET};
use crate::support::tables::{CREDENTIALS, USERS};
use crate::support::{reset_signature, Fixture};

#[tokio::test]
async fn full_reset_flow_and_logs_without_secrets() {
    // Debug logging everywhere: the server must still keep secrets out of its log.
    let f = Fixture::start("http_flow", &[], &[("RUST_LOG", "debug")]).await;

    let csrf = f.csrf_cookie().await;
    let response = f
        .http
        .post(f.api(RESET))
        .header("cookie", &csrf)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let link = f.emailed_link().await;
    let token = link
        .query_pairs()
        .find(|(key, _)| key == "token")
        .unwrap()
        .1
        .into_owned();
    let callback = format!("{APP_ORIGIN}/signed-in");
    let validate_url = format!("{}?{}", f.api(RESET), link.query().unwrap());

    // redirect=false: the cookie, but no Location.
    let response = f
        .http
        .get(format!("{validate_url}&redirect=false"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(LOCATION).is_none());
    assert!(set_cookie(response.headers(), "nile.reset").is_some());

    // The link: 200 (not 3xx), Location and the reset cookie bound to the identifier.
    let response = f.http.get(&validate_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[LOCATION], callback.as_str());
    let reset_cookie = set_cookie(response.headers(), "nile.reset").unwrap();
    assert_eq!(
        reset_cookie,
        format!(
            "nile.reset={token}%7Calice%40example.com%7C{}; Path=/; HttpOnly; SameSite=Lax; Max-Age=14400",
            reset_signature("http_flow", &token, "alice@example.com")
        )
    );
    let cookie = reset_cookie.split(';').next().unwrap().to_owned();

    // A too-short password is refused by the database's policy; the token survives that.
    let put = |body: Value| {
        f.http
            .put(f.api(RESET))
            .header("cookie", &cookie)
            .json(&body)
    };
    let (status, message) = text(put(
        json!({"email": "Alice@Example.com", "password": "sh0rt!"}),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("password"), "{message}");

    // The email as the user typed it (Nile's SDK sends it) matches the link's identifier.
    let response = put(json!({"email": " Alice@Example.com", "password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookie(response.headers(), "nile.reset").unwrap(),
        "nile.reset=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    );
    let changed: bool =
        f.db.query_one(
            &format!(
                "SELECT (payload->>'hash') = crypt($1::text, payload->>'hash') FROM {CREDENTIALS}
                 WHERE user_id = (SELECT id FROM {USERS} WHERE email = 'Alice@Example.com')"
            ),
            &[&NEW_PASSWORD],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        changed,
        "the credential holds the new password's bcrypt hash"
    );

    // Single use: the second PUT and a second visit of the link both fail.
    let (status, message) = text(put(
        json!({"email": "alice@example.com", "password": NEW_PASSWORD}),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        !message.is_empty() && message != "Unable to process request",
        "{message}"
    );
    let response = f.http.get(&validate_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[LOCATION],
        format!("{callback}?error=Token%20is%20invalid").as_str()
    );
    assert!(set_cookie(response.headers(), "nile.reset").is_none());

    let log = f.shim.log();
    assert!(
        // Text logs (the default format) carry the route template, never the path.
        log.contains(r#"route="/v2/databases/{database}/auth/reset-password""#),
        "{log}"
    );
    for secret in [
        token.as_str(),
        NEW_PASSWORD,
        "sh0rt!",
        csrf.split('=').nth(1).unwrap(),
        "?token=",
        "signed-in",
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}");
    }
}
