//! `nile-reset serve` over real sockets against real PostgreSQL with the nile_reset extension.
//! Each test has its own database and its own server process; they share one cluster.

mod support;

use std::time::Duration;

use reqwest::header::{HeaderMap, CACHE_CONTROL, LOCATION, SET_COOKIE};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::cluster::replace_function;
use support::process::API_KEY;
use support::tables::{self, CREDENTIALS, OUTBOX, TOKENS, USERS};
use support::{
    csrf_signature, csrf_signature_with, reset_signature, run_to_exit, scratch_dir, Cluster, Shim,
};

/// The origin trusted in every test database.
const APP_ORIGIN: &str = "http://localhost:3000";
/// Port of the cluster the tests share; 28841 is the outage test's own, 28842 schemathesis's.
const SHARED_PORT: u16 = 28840;
const OUTAGE_PORT: u16 = 28841;

fn shared_cluster() -> &'static Cluster {
    Cluster::shared("http-shared", SHARED_PORT)
}

/// A fresh database with the extension, a trusted origin and Alice (alice@example.com,
/// stored mixed-case) as its only user; returns a superuser connection to it.
async fn app_database(cluster: &Cluster, name: &str) -> tokio_postgres::Client {
    let db = cluster.database(name).await;
    db.batch_execute(&format!(
        // pgcrypto for crypt() in assertions on the stored bcrypt hash.
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;
         SELECT auth.add_trusted_origin('{APP_ORIGIN}');"
    ))
    .await
    .unwrap();
    tables::add_user(&db, "Alice@Example.com", Some("Alice")).await;
    db
}

const RESET: &str = "/auth/reset-password";
const NEW_PASSWORD: &str = "correct horse battery staple";

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A shim serving one fresh database, named after the test.
struct Fixture {
    db: tokio_postgres::Client,
    shim: Shim,
    http: Client,
    name: String,
}

impl Fixture {
    async fn new(name: &str) -> Fixture {
        Fixture::with_args(name, &[]).await
    }

    async fn with_args(name: &str, extra: &[&str]) -> Fixture {
        Fixture::start(name, extra, &[]).await
    }

    /// `extra` flags after `--database`; `env` on top of the test secret and API key.
    async fn start(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Fixture {
        Fixture::with_settings(name, extra, env, &[]).await
    }

    /// Like `start`, with `settings` (`nile_reset.x = 'value'`) made the database's defaults
    /// before the server opens its first connection.
    async fn with_settings(
        name: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        settings: &[&str],
    ) -> Fixture {
        let cluster = shared_cluster();
        let db = app_database(cluster, name).await;
        for setting in settings {
            db.batch_execute(&format!("ALTER DATABASE {name} SET {setting}"))
                .await
                .unwrap();
        }
        let database = format!("{name}={}", cluster.url(name));
        let mut args = vec!["--database", database.as_str()];
        // Every request of a test comes from one address: no limit unless the test sets one.
        if !extra.contains(&"--rate-limit-per-minute") {
            args.extend_from_slice(&["--rate-limit-per-minute", "0"]);
        }
        args.extend_from_slice(extra);
        let shim = Shim::start_with_env(name, &args, env);
        Fixture {
            db,
            shim,
            http: client(),
            name: name.to_owned(),
        }
    }

    /// URL of `route` under this fixture's database.
    fn api(&self, route: &str) -> String {
        self.shim
            .url(&format!("/v2/databases/{}{route}", self.name))
    }

    /// A fresh CSRF cookie, as `name=value` for a Cookie header.
    async fn csrf_cookie(&self) -> String {
        let response = self.http.get(self.api("/auth/csrf")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        cookie_pair(response.headers(), "nile.csrf-token").expect("csrf cookie")
    }

    /// POST reset-password with a valid CSRF cookie.
    async fn request_reset(&self, body: Value) -> Response {
        let cookie = self.csrf_cookie().await;
        self.http
            .post(self.api(RESET))
            .header("cookie", cookie)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn outbox_count(&self) -> i64 {
        self.db
            .query_one(&format!("SELECT count(*) FROM {OUTBOX}"), &[])
            .await
            .unwrap()
            .get(0)
    }

    /// The reset link of the newest password_reset email (it only exists in the email body).
    async fn emailed_link(&self) -> url::Url {
        let body: String = self
            .db
            .query_one(
                &format!("SELECT body FROM {OUTBOX} WHERE kind = 'password_reset' ORDER BY id DESC LIMIT 1"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let link = body
            .split_whitespace()
            .find(|word| word.contains("?token="))
            .expect("a link in the email");
        url::Url::parse(link).unwrap()
    }
}

impl Fixture {
    /// The victim's whole reset through the API: POST, the emailed link, PUT with the email as
    /// typed. Panics with the step that failed.
    async fn complete_reset(&self, email: &str) {
        let link = self.request_link(email).await;
        self.finish_reset(&link, email).await;
    }

    /// POSTs a reset request for `email`: the URL of the emailed link on this server.
    async fn request_link(&self, email: &str) -> String {
        let response = self
            .request_reset(json!({
                "email": email,
                "callbackUrl": format!("{APP_ORIGIN}/signed-in"),
                "redirectUrl": format!("{APP_ORIGIN}/reset"),
            }))
            .await;
        let status = response.status();
        let message = response.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "POST for {email}: {message}");
        let link = self.emailed_link().await;
        format!("{}?{}", self.api(RESET), link.query().unwrap())
    }

    /// Opens the link and sets the new password with `email` as typed.
    async fn finish_reset(&self, validate_url: &str, email: &str) {
        let response = self.http.get(validate_url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response
                .headers()
                .get(LOCATION)
                .map(|l| l.to_str().unwrap()),
            Some(format!("{APP_ORIGIN}/signed-in").as_str()),
            "the user's own link was refused"
        );
        let cookie = cookie_pair(response.headers(), "nile.reset").expect("reset cookie");
        let (status, message) = text(
            self.http
                .put(self.api(RESET))
                .header("cookie", cookie)
                .json(&json!({"email": email, "password": NEW_PASSWORD})),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "PUT for {email}: {message}");
    }

    /// A GET of a link for `identifier` with a wrong token and `callback`.
    async fn wrong_guess(&self, identifier: &str, callback: &str) -> StatusCode {
        self.http
            .get(self.api(RESET))
            .query(&[
                ("token", "0".repeat(64).as_str()),
                ("identifier", identifier),
                ("callbackUrl", callback),
            ])
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn alice_request() -> Value {
    json!({
        "email": "alice@example.com",
        "callbackUrl": format!("{APP_ORIGIN}/signed-in"),
        "redirectUrl": format!("{APP_ORIGIN}/reset"),
    })
}

/// The `name=value` pair of the Set-Cookie header for cookie `name`.
fn cookie_pair(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookie(headers, name).map(|cookie| cookie.split(';').next().unwrap().to_owned())
}

/// The whole Set-Cookie header for cookie `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
}

async fn text(request: RequestBuilder) -> (StatusCode, String) {
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

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
            "nile.reset={token}%7C{}; Path=/; HttpOnly; SameSite=Lax; Max-Age=14400",
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
        log.contains(r#""route":"/v2/databases/{database}/auth/reset-password""#),
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

#[tokio::test]
async fn expired_links_and_cookies_are_refused() {
    let f = Fixture::new("http_expired").await;
    assert_eq!(
        f.request_reset(alice_request()).await.status(),
        StatusCode::CREATED
    );
    let link = f.emailed_link().await;
    let validate_url = format!("{}?{}", f.api(RESET), link.query().unwrap());
    let response = f.http.get(&validate_url).send().await.unwrap();
    let cookie = cookie_pair(response.headers(), "nile.reset").expect("reset cookie");

    // Time passes: the token outlives its expiry.
    f.db.execute(
        &format!("UPDATE {TOKENS} SET expires = now() - interval '1 second'"),
        &[],
    )
    .await
    .unwrap();
    let response = f.http.get(&validate_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.ends_with("?error=Token%20is%20invalid"),
        "{location}"
    );
    assert!(set_cookie(response.headers(), "nile.reset").is_none());

    // The cookie from before is still well signed; the database refuses the expired token.
    let (status, message) = text(
        f.http
            .put(f.api(RESET))
            .header("cookie", cookie)
            .json(&json!({"email": "alice@example.com", "password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn link_validation_answers() {
    let f = Fixture::new("http_get").await;
    let base = f.api(RESET);
    let callback = format!("{APP_ORIGIN}/signed-in");

    // Wrong token: 200 with the error appended to the callback URL (with & after a query).
    let wrong = format!(
        "{base}?token={}&identifier=alice%40example.com&callbackUrl={}",
        "0".repeat(64),
        callback
    );
    let response = f.http.get(&wrong).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[LOCATION],
        format!("{callback}?error=Token%20is%20invalid").as_str()
    );
    assert!(set_cookie(response.headers(), "nile.reset").is_none());
    let with_query = format!(
        "{base}?token=x&identifier=alice%40example.com&callbackURL={}",
        "http%3A%2F%2Flocalhost%3A3000%2Fdone%3Fstep%3D2"
    );
    let response = f.http.get(&with_query).send().await.unwrap();
    assert_eq!(
        response.headers()[LOCATION],
        "http://localhost:3000/done?step=2&error=Token%20is%20invalid"
    );

    // Missing parameters: 400 text/plain.
    for (query, expected) in [
        ("identifier=a%40b.c&callbackUrl=http://x", "Missing token"),
        ("token=t&callbackUrl=http://x", "Missing identifier"),
        ("token=t&identifier=a%40b.c", "Missing callbackUrl"),
        (
            "token=&identifier=a%40b.c&callbackUrl=http://x",
            "Missing token",
        ),
    ] {
        let (status, message) = text(f.http.get(format!("{base}?{query}"))).await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, expected),
            "{query}"
        );
    }
    // A callback on an origin the database does not trust gets no Location at all, whatever
    // the token: the link's query is attacker-controlled and Nile's SDK follows Location.
    for callback in ["https://evil.example/phish", "http://localhost:3001/"] {
        let (status, message) = text(f.http.get(format!(
            "{base}?token={}&identifier=alice%40example.com&callbackUrl={callback}",
            "0".repeat(64)
        )))
        .await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, "callbackUrl origin is not trusted"),
            "{callback}"
        );
    }
    // A callback URL that cannot be a header is refused, not reflected.
    let (status, message) = text(f.http.get(format!(
        "{base}?token=t&identifier=a&callbackUrl=http://x/%0d%0aSet-Cookie:%20a=b"
    )))
    .await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Invalid callbackUrl")
    );
}

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
    let (status, message) =
        text(put(Some("nile.reset=x"), json!({"password": NEW_PASSWORD}))).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "Email is required")
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
    assert_eq!(document, include_str!("../openapi.yaml"));
}

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
async fn database_outage_is_answered_and_survived() {
    let cluster = Cluster::start(&scratch_dir("http-outage"), OUTAGE_PORT);
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
async fn dsn_template_and_secret_files() {
    let cluster = shared_cluster();
    let name = "http_template";
    let db = app_database(cluster, name).await;
    let dir = std::env::temp_dir().join(format!("nile-reset-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file_secret = "file-secret-0123456789abcdef0123456789abcdef";
    std::fs::write(dir.join("secret"), format!("{file_secret}\n")).unwrap();
    let file_key = "file-api-key-0123456789abcdef";
    std::fs::write(
        dir.join("keys"),
        format!("# rotated monthly\n\n{file_key}\n"),
    )
    .unwrap();
    let template = cluster.url("{database}");
    let shim = Shim::start_with_env(
        name,
        &[
            "--dsn-template",
            &template,
            "--allow-database",
            name,
            "--secret-file",
            dir.join("secret").to_str().unwrap(),
            "--api-keys-file",
            dir.join("keys").to_str().unwrap(),
        ],
        // Empty values count as unset: only the files configure secrets here.
        &[("NILE_RESET_SECRET", ""), ("NILE_RESET_API_KEYS", "")],
    );
    let http = client();
    let api = |database: &str, route: &str| shim.url(&format!("/v2/databases/{database}{route}"));

    let response = http.get(api(name, "/auth/csrf")).send().await.unwrap();
    let cookie = cookie_pair(response.headers(), "nile.csrf-token").unwrap();
    let token: Value = response.json().await.unwrap();
    let token = token["csrfToken"].as_str().unwrap();
    let expected = csrf_signature_with(file_secret, name, token);
    assert_eq!(cookie, format!("nile.csrf-token={token}%7C{expected}"));
    let response = http
        .post(api(name, RESET))
        .header("cookie", &cookie)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = http
        .post(format!("{}?json=true", api(name, RESET)))
        .bearer_auth(file_key)
        .json(&json!({"email": "nobody@example.com", "callbackUrl": APP_ORIGIN, "redirectUrl": APP_ORIGIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = http
        .post(format!("{}?json=true", api(name, RESET)))
        .bearer_auth(API_KEY)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "only the file's key is configured"
    );

    // Names outside the allow-list are not served, even when the database exists.
    let (status, message) = text(http.get(api("postgres", "/auth/csrf"))).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::NOT_FOUND, "Unknown database")
    );
    std::fs::remove_dir_all(&dir).unwrap();
    drop(db);
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
    // The server cancels the abandoned statement at the same deadline (statement_timeout),
    // although the lock is still held.
    let observer = shared_cluster().connect("http_timeout").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let running: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nile-reset' AND state = 'active'",
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

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let f = Fixture::new("http_sigterm").await;
    assert_eq!(
        f.http
            .get(f.shim.admin("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let mut shim = f.shim;
    shim.process.terminate();
    let status = shim
        .process
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("nile-reset serve did not exit within 10 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(shim.log().contains("stopped"));
}

#[test]
fn startup_refuses_unsafe_configurations() {
    let run_serve = |args: &[&str], env: &[(&str, &str)]| run_to_exit("serve", args, env);
    let database = (
        "NILE_RESET_DATABASES",
        "app=postgres://postgres@127.0.0.1:1/app",
    );

    let (status, stderr) = run_serve(&["--production"], &[database]);
    assert!(!status.success());
    assert!(
        stderr.contains("--production needs a cookie secret"),
        "{stderr}"
    );

    let (status, stderr) = run_serve(&[], &[database, ("NILE_RESET_SECRET", "too-short")]);
    assert!(!status.success());
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    assert!(!stderr.contains("too-short"), "{stderr}");

    let (status, stderr) = run_serve(&[], &[database, ("NILE_RESET_API_KEYS", "short")]);
    assert!(!status.success());
    assert!(stderr.contains("API keys must be at least"), "{stderr}");

    let (status, stderr) = run_serve(&[], &[]);
    assert!(!status.success());
    assert!(stderr.contains("no database configured"), "{stderr}");

    let (status, stderr) = run_serve(
        &[
            "--dsn-template",
            "postgres://h/db",
            "--allow-database",
            "app",
        ],
        &[],
    );
    assert!(!status.success());
    assert!(stderr.contains("{database}"), "{stderr}");

    let (status, stderr) = run_serve(
        &["--database", "app=postgres://u:hunter2@h:notaport/app"],
        &[],
    );
    assert!(!status.success());
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn serve_refuses_a_database_without_the_extension_or_of_another_version() {
    let cluster = shared_cluster();
    let serve = |name: &str| {
        let database = format!("{name}={}", cluster.url(name));
        let (status, output) = run_to_exit("serve", &["--database", &database], &[]);
        assert!(!status.success(), "it started:\n{output}");
        output
    };
    cluster.empty_database("http_no_extension").await;
    let output = serve("http_no_extension");
    assert!(
        output.contains("the nile_reset extension is not installed"),
        "{output}"
    );
    assert!(output.contains("http_no_extension"), "{output}");

    let db = cluster.database("http_other_version").await;
    db.batch_execute("UPDATE pg_extension SET extversion = '0.0.9' WHERE extname = 'nile_reset'")
        .await
        .unwrap();
    let output = serve("http_other_version");
    let expected = format!(
        "the database has nile_reset 0.0.9, but this nile-reset is built for {}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(output.contains(&expected), "{output}");
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

/// A status this binary does not know means an extension it was not built for: 500 and a log
/// line, never "invalid". Faked by replacing the function in a throwaway database.
#[tokio::test]
async fn an_unknown_token_status_is_an_error_not_invalid() {
    let f = Fixture::new("http_unknown_status").await;
    replace_function(
        &f.db,
        "verify_password_token",
        "CREATE FUNCTION auth.verify_password_token(identifier text, token text)
         RETURNS TABLE(status text, expires timestamp with time zone)
         LANGUAGE sql AS $$ SELECT 'revoked'::text, NULL::timestamptz $$",
    )
    .await;
    let link = format!(
        "{}?token=t&identifier=alice%40example.com&callbackUrl={APP_ORIGIN}/",
        f.api(RESET)
    );
    let response = f.http.get(&link).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get(LOCATION).is_none());
    assert!(f.shim.log().contains("unknown status"), "{}", f.shim.log());
}

#[tokio::test]
async fn a_database_unreachable_at_start_does_not_stop_the_server() {
    let shim = Shim::start(
        "http_unreachable",
        &[
            "--database",
            "app=postgres://postgres@127.0.0.1:1/app",
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
async fn strangers_guessing_tokens_cannot_lock_the_user_out() {
    // One wrong token short of the throttle, and a throttle that would outlast the test.
    let f = Fixture::with_settings(
        "http_lockout",
        &[],
        &[],
        &[
            "nile_reset.max_failed_attempts = 5",
            "nile_reset.failure_block = '1h'",
            "nile_reset.max_failure_block = '1d'",
        ],
    )
    .await;
    let link = f.request_link("alice@example.com").await;
    // Guesses whose callbackUrl is refused count for nothing, however many.
    for _ in 0..30 {
        for identifier in ["alice@example.com", " ALICE@example.com"] {
            assert_eq!(
                f.wrong_guess(identifier, "https://evil.example/").await,
                StatusCode::BAD_REQUEST
            );
        }
    }
    for _ in 0..4 {
        assert_eq!(
            f.wrong_guess("alice@example.com", &format!("{APP_ORIGIN}/signed-in"))
                .await,
            StatusCode::OK
        );
    }
    f.finish_reset(&link, "alice@example.com").await;
}

#[tokio::test]
async fn the_email_as_typed_finishes_the_reset_whatever_its_letters() {
    let f = Fixture::new("http_sigma").await;
    // PostgreSQL lower-cases Σ to σ everywhere; Rust's to_lowercase makes a final ς.
    tables::add_user(&f.db, "ΟΔΥΣΣΕΥΣ@example.com", None).await;
    f.complete_reset("ΟΔΥΣΣΕΥΣ@example.com").await;
}

#[tokio::test]
async fn csrf_cookies_are_bound_to_their_database_and_purpose() {
    let cluster = shared_cluster();
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

/// The server's address, for raw sockets.
fn socket_address(shim: &Shim) -> String {
    shim.base_url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection: how long that took (panics after 20 s).
async fn time_until_closed(mut reader: impl tokio::io::AsyncRead + Unpin) -> Duration {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(20), async {
        // An error (a reset) counts as closed too.
        while let Ok(read) = reader.read(&mut buffer).await {
            if read == 0 {
                break;
            }
        }
    })
    .await
    .expect("the server kept the connection open for 20 s");
    start.elapsed()
}

#[tokio::test]
async fn slow_and_idle_connections_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let f = Fixture::with_args(
        "http_slow",
        &["--header-read-timeout", "2s", "--idle-timeout", "3s"],
    )
    .await;
    let address = socket_address(&f.shim);

    // One header line a second: cut off when the 2 s for the whole head are up.
    let (reader, mut writer) = TcpStream::connect(&address).await.unwrap().into_split();
    writer
        .write_all(b"GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let drip = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if writer.write_all(b"X-Drip: 1\r\n").await.is_err() {
                break;
            }
        }
    });
    let dripping = time_until_closed(reader).await;
    drip.abort();
    assert!(dripping < Duration::from_secs(4), "{dripping:?}");

    // A connection that never says anything: the idle timeout, 3 s.
    let silent = TcpStream::connect(&address).await.unwrap();
    let idle = time_until_closed(silent).await;
    assert!(idle < Duration::from_secs(5), "{idle:?}");

    // A body that stalls after its head: closed after 3 s without any byte either way (the
    // request timeout, 10 s, would come much later).
    let mut stalled = TcpStream::connect(&address).await.unwrap();
    stalled
        .write_all(
            format!(
                "POST /v2/databases/{}{RESET} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"email\"",
                f.name
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let stalled_for = time_until_closed(stalled).await;
    assert!(
        stalled_for > Duration::from_millis(2500) && stalled_for < Duration::from_secs(5),
        "{stalled_for:?}"
    );

    // A normal request on a fresh connection is unaffected.
    let response = f
        .http
        .get(f.shim.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    use tokio::net::TcpStream;
    let f = Fixture::with_args(
        "http_cap",
        &["--max-connections", "2", "--idle-timeout", "2s"],
    )
    .await;
    let address = socket_address(&f.shim);
    let _first = TcpStream::connect(&address).await.unwrap();
    let _second = TcpStream::connect(&address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Both slots are taken: the third connection is not served...
    let quick = Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    assert!(
        quick.get(f.shim.url("/openapi.yaml")).send().await.is_err(),
        "a third connection was served while two were open"
    );
    // ...until the silent ones are cut off by the idle timeout.
    let response = f
        .http
        .get(f.shim.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
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

#[tokio::test]
async fn urls_that_parsers_read_differently_are_refused_not_normalized() {
    let f = Fixture::new("http_ambiguous").await;
    // WHATWG (the extension's parser) reads every one of these as the trusted
    // http://localhost:3000; other parsers see another host, or none.
    for url in [
        "http://localhost:3000\\@evil.example/",
        "http:///localhost:3000/",
        "http:\\\\localhost:3000/",
        "http://local%68ost:3000/",
        "http://LOCALHOST%2e:3000/",
        "http://ｌｏｃａｌｈｏｓｔ:3000/",
        "http://127.1:3000/",
    ] {
        let (status, message) = text(f.http.get(f.api(RESET)).query(&[
            ("token", "0".repeat(64).as_str()),
            ("identifier", "alice@example.com"),
            ("callbackUrl", url),
        ]))
        .await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, "Invalid callbackUrl"),
            "GET {url}"
        );
        let mut body = alice_request();
        body["redirectUrl"] = json!(url);
        let (status, message) = text(
            f.http
                .post(f.api(RESET))
                .header("cookie", f.csrf_cookie().await)
                .json(&body),
        )
        .await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, "Invalid redirectUrl"),
            "POST {url}"
        );
    }
    assert_eq!(f.outbox_count().await, 0);
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
