//! `PUT /v2/databases/{database}/auth/reset-password`: the new password set with the reset
//! cookie, and the refusals.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fixture::{text, NEW_PASSWORD, RESET};
use crate::support::{reset_signature, tables, Fixture};

#[tokio::test]
async fn password_change_refusals() {
    let f = Fixture::new("http_put").await;
    let base = f.api(RESET);
    let put = |cookie: Option<&str>, body: Value| {
        let mut request = f.http.put(&base).json(&body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        request
    };
    let alice = json!({"email": "alice@example.com", "password": NEW_PASSWORD});

    let (status, message) = text(put(None, alice.clone())).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Missing reset token")
    );
    // A cookie set by 0.2.0 (`token|signature`) names no identifier: the body must.
    let (status, message) = text(put(
        Some("nile.reset=0123abcd%7Csignature"),
        json!({"password": NEW_PASSWORD}),
    ))
    .await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Email is required")
    );
    let (status, message) =
        text(put(Some("nile.reset=x"), json!({"password": NEW_PASSWORD}))).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Unable to process request")
    );
    let (status, message) = text(put(
        Some("nile.reset=x"),
        json!({"email": "alice@example.com"}),
    ))
    .await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Password is required")
    );
    let (status, message) = text(f.http.put(&base).body("{")).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Request body must be valid JSON")
    );

    // A cookie not signed by us, and a genuine one presented for another account.
    let forged = format!("nile.reset=t0k3n%7C{}", "0".repeat(64));
    let (status, message) = text(put(Some(&forged), alice.clone())).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Unable to process request")
    );
    let for_bob = format!(
        "nile.reset=t0k3n%7C{}",
        reset_signature(&f.name, "t0k3n", "bob@example.com")
    );
    let (status, message) = text(put(Some(&for_bob), alice.clone())).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Unable to process request")
    );

    // Signed correctly but the token is not the database's: the SQL says so (28000).
    let signed = format!(
        "nile.reset=t0k3n%7C{}",
        reset_signature(&f.name, "t0k3n", "alice@example.com")
    );
    let (status, message) = text(put(Some(&signed), alice)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("token"), "{message}");
}

#[tokio::test]
async fn the_email_as_typed_finishes_the_reset_whatever_its_letters() {
    let f = Fixture::new("http_sigma").await;
    // PostgreSQL lower-cases Σ to σ everywhere; Rust's to_lowercase makes a final ς.
    tables::add_user(&f.db, "ΟΔΥΣΣΕΥΣ@example.com", None).await;
    f.complete_reset("ΟΔΥΣΣΕΥΣ@example.com").await;
}

/// Nile's React form sends only the password: the user is the one the link's cookie names.
#[tokio::test]
async fn a_reset_without_an_email_is_for_the_user_the_cookie_names() {
    let f = Fixture::new("http_put_no_email").await;
    let link = f.request_link("ALICE@example.com").await;
    let response = f.http.get(&link).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = crate::support::fixture::cookie_pair(response.headers(), "nile.reset")
        .expect("reset cookie");

    // A body naming someone else is still refused.
    let (status, message) = text(
        f.http
            .put(f.api(RESET))
            .header("cookie", &cookie)
            .json(&json!({"email": "bob@example.com", "password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Unable to process request")
    );

    let (status, message) = text(
        f.http
            .put(f.api(RESET))
            .header("cookie", &cookie)
            .json(&json!({"password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{message}");
    let changed: bool =
        f.db.query_one(
            "SELECT (c.payload->>'hash') = crypt($1::text, c.payload->>'hash')
               FROM auth.credentials c JOIN users.users u ON u.id = c.user_id
              WHERE lower(u.email) = 'alice@example.com'",
            &[&NEW_PASSWORD],
        )
        .await
        .unwrap()
        .get(0);
    assert!(changed, "Alice's password was not changed");

    // Spent: the same cookie changes nothing more.
    let (status, _) = text(
        f.http
            .put(f.api(RESET))
            .header("cookie", &cookie)
            .json(&json!({"password": "another horse battery staple"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
