//! What Nile's SDK (`@niledatabase/server`) needs of `nile-reset serve`, over real sockets
//! against real PostgreSQL: the API key in the `nile-reset.api-key` cookie (the SDK cannot send
//! an Authorization header), relative and cookie callback URLs, and the new-password policy
//! checked before a `?json=true` link is issued. tests/sdk drives the same with the SDK itself.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fixture::{APP_ORIGIN, RESET};
use crate::support::ports::REFUSED;
use crate::support::process::{API_KEY, SECRET};
use crate::support::{run_to_exit, tables, Fixture};

const REDIRECT_URL: &str = "http://localhost:3000/reset-password";
const KEY_COOKIE: &str = "nile-reset.api-key";

/// POST `?json=true` with `headers`; the status and the body as text.
async fn post_json(f: &Fixture, headers: &[(&str, &str)], body: Value) -> (StatusCode, String) {
    let mut request = f
        .http
        .post(f.api(&format!("{RESET}?json=true")))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// How many reset tokens the database holds.
async fn tokens(f: &Fixture) -> i64 {
    f.db.query_one(&format!("SELECT count(*) FROM {}", tables::TOKENS), &[])
        .await
        .unwrap()
        .get(0)
}

fn key_cookie(key: &str) -> String {
    format!("other=1; {KEY_COOKIE}={key}")
}

/// The callbackUrl parameter of a reset link.
fn callback_of(link: &str) -> String {
    let url = url::Url::parse(link).unwrap();
    url.query_pairs()
        .find(|(name, _)| name == "callbackUrl")
        .map(|(_, value)| value.into_owned())
        .expect("link has a callbackUrl")
}

#[tokio::test]
async fn the_key_cookie_authorizes_json_requests_only() {
    let f = Fixture::new("sdk_key_cookie").await;
    let body = json!({"email": "alice@example.com", "callbackUrl": "http://localhost:3000/done",
                      "redirectUrl": REDIRECT_URL});

    let wrong = key_cookie(&format!("{API_KEY}x"));
    let (status, _) = post_json(&f, &[("cookie", &wrong)], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(tokens(&f).await, 0);

    // No CSRF cookie needed, as with the bearer key.
    let (status, text) = post_json(&f, &[("cookie", &key_cookie(API_KEY))], body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let link: Value = serde_json::from_str(&text).unwrap();
    assert!(link["url"].as_str().unwrap().starts_with(REDIRECT_URL));

    // The cookie is no CSRF exemption for the emailing POST.
    let response = f
        .http
        .post(f.api(RESET))
        .header("cookie", key_cookie(API_KEY))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    assert!(
        !f.shim.log().contains(API_KEY),
        "the API key was logged:\n{}",
        f.shim.log()
    );
}

#[tokio::test]
async fn relative_and_cookie_callback_urls_resolve_then_meet_the_allow_list() {
    let f = Fixture::new("sdk_callbacks").await;
    let key = key_cookie(API_KEY);
    // (nile-origin header, extra cookie, body's callbackUrl, the link's callbackUrl)
    let cases = [
        // The React forms' default "/", against nile-origin.
        (Some(APP_ORIGIN), None, Some("/"), "http://localhost:3000/"),
        // No nile-origin: the redirectUrl's origin.
        (
            None,
            None,
            Some("/done?x=1"),
            "http://localhost:3000/done?x=1",
        ),
        // No callbackUrl: Nile's callback cookie.
        (
            None,
            Some("nile.callback-url=%2Fhome"),
            None,
            "http://localhost:3000/home",
        ),
    ];
    for (index, (origin, cookie, callback, expected)) in cases.into_iter().enumerate() {
        // A user per case: each link is a fresh token outside any resend interval.
        let email = format!("user{index}@example.com");
        tables::add_user(&f.db, &email, None).await;
        let mut body = json!({"email": email, "redirectUrl": REDIRECT_URL});
        if let Some(callback) = callback {
            body["callbackUrl"] = json!(callback);
        }
        let cookies = match cookie {
            Some(cookie) => format!("{cookie}; {key}"),
            None => key.clone(),
        };
        let mut headers = vec![("cookie", cookies.as_str())];
        headers.extend(origin.map(|origin| ("nile-origin", origin)));
        let (status, text) = post_json(&f, &headers, body).await;
        assert_eq!(status, StatusCode::CREATED, "case {index}: {text}");
        let link: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(callback_of(link["url"].as_str().unwrap()), expected);
    }

    // A path resolved against an untrusted origin is refused like any untrusted URL.
    let (status, text) = post_json(
        &f,
        &[("cookie", &key), ("nile-origin", "https://evil.example")],
        json!({"email": "alice@example.com", "callbackUrl": "/",
                   "redirectUrl": REDIRECT_URL}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("callback_url"), "{text}");
    assert_eq!(tokens(&f).await, 3);
}

#[tokio::test]
async fn json_requests_check_the_new_password_before_issuing_a_link() {
    let f = Fixture::new("sdk_policy").await;
    let key = key_cookie(API_KEY);
    let body = |password: &str| {
        json!({"email": "alice@example.com", "password": password,
               "callbackUrl": "http://localhost:3000/", "redirectUrl": REDIRECT_URL})
    };

    for refused in ["short", "", "tab\there is a control"] {
        let (status, text) = post_json(&f, &[("cookie", &key)], body(refused)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused:?}");
        assert!(text.starts_with("new_password must"), "{refused:?}: {text}");
    }
    assert_eq!(tokens(&f).await, 0, "a refused password issued a token");

    // The retry is not held back: no token was issued by the refused attempts.
    let (status, text) = post_json(
        &f,
        &[("cookie", &key)],
        body("correct horse battery staple"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(tokens(&f).await, 1);
    assert!(!f.shim.log().contains("correct horse"));
}

#[test]
fn keys_that_a_cookie_cannot_carry_are_refused_at_startup() {
    let (status, output) = run_to_exit(
        "serve",
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &format!("x=postgres://127.0.0.1:{REFUSED}/x"),
        ],
        &[
            ("NILE_RESET_SECRET", SECRET),
            ("NILE_RESET_API_KEYS", "0123456789abcdef;injected"),
        ],
    );
    assert!(!status.success());
    assert!(output.contains("API keys may only hold"), "{output}");
    assert!(!output.contains("injected"), "{output}");
}
