//! A database served by its own `nile-reset serve`, and the HTTP client the tests talk to it
//! with: what the tests of `http` and `sdk_flow` start from.

use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use super::tables::{self, OUTBOX};
use super::{Cluster, Shim};

/// The origin trusted in every served database.
pub const APP_ORIGIN: &str = "http://localhost:3000";
/// The reset route, under `/v2/databases/{database}`.
pub const RESET: &str = "/auth/reset-password";
/// A password every policy accepts.
pub const NEW_PASSWORD: &str = "correct horse battery staple";

/// A fresh database in `cluster` with the extension, a trusted origin and Alice
/// (alice@example.com, stored mixed-case) as its only user; a superuser connection to it.
pub async fn app_database(cluster: &Cluster, name: &str) -> tokio_postgres::Client {
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

/// An HTTP client that does not follow redirects: the tests read Location themselves.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The `name=value` pair of the Set-Cookie header for cookie `name`.
pub fn cookie_pair(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookie(headers, name).map(|cookie| cookie.split(';').next().unwrap().to_owned())
}

/// The whole Set-Cookie header for cookie `name`.
pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
}

/// Sends `request`: the status and the body as text.
pub async fn text(request: RequestBuilder) -> (StatusCode, String) {
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A shim serving one fresh database (see [`app_database`]) of the shared cluster, named
/// after the test.
pub struct Fixture {
    pub db: tokio_postgres::Client,
    pub shim: Shim,
    pub http: Client,
    pub name: String,
}

impl Fixture {
    pub async fn new(name: &str) -> Fixture {
        Fixture::with_args(name, &[]).await
    }

    pub async fn with_args(name: &str, extra: &[&str]) -> Fixture {
        Fixture::start(name, extra, &[]).await
    }

    /// `extra` flags after `--database`; `env` on top of the test secret and API key.
    pub async fn start(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Fixture {
        Fixture::with_settings(name, extra, env, &[]).await
    }

    /// Like `start`, with `settings` (`nile_reset.x = 'value'`) made the database's defaults
    /// before the server opens its first connection.
    pub async fn with_settings(
        name: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        settings: &[&str],
    ) -> Fixture {
        let cluster = Cluster::shared();
        let db = app_database(cluster, name).await;
        for setting in settings {
            db.batch_execute(&format!("ALTER DATABASE {name} SET {setting}"))
                .await
                .unwrap();
        }
        Fixture::serve(db, name, &cluster.url(name), extra, env)
    }

    /// Like `with_args`, with the server reaching the database at `dsn` (e.g. through a proxy).
    pub async fn with_dsn(name: &str, dsn: &str, extra: &[&str]) -> Fixture {
        let db = app_database(Cluster::shared(), name).await;
        Fixture::serve(db, name, dsn, extra, &[])
    }

    fn serve(
        db: tokio_postgres::Client,
        name: &str,
        dsn: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Fixture {
        let database = format!("{name}={dsn}");
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
    pub fn api(&self, route: &str) -> String {
        self.shim
            .url(&format!("/v2/databases/{}{route}", self.name))
    }

    /// A fresh CSRF cookie, as `name=value` for a Cookie header.
    pub async fn csrf_cookie(&self) -> String {
        let response = self.http.get(self.api("/auth/csrf")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        cookie_pair(response.headers(), "nile.csrf-token").expect("csrf cookie")
    }

    /// POST reset-password with a valid CSRF cookie.
    pub async fn request_reset(&self, body: Value) -> Response {
        let cookie = self.csrf_cookie().await;
        self.http
            .post(self.api(RESET))
            .header("cookie", cookie)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn outbox_count(&self) -> i64 {
        self.db
            .query_one(&format!("SELECT count(*) FROM {OUTBOX}"), &[])
            .await
            .unwrap()
            .get(0)
    }

    /// The reset link of the newest password_reset email (it only exists in the email body).
    pub async fn emailed_link(&self) -> url::Url {
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

    /// The victim's whole reset through the API: POST, the emailed link, PUT with the email as
    /// typed. Panics with the step that failed.
    pub async fn complete_reset(&self, email: &str) {
        let link = self.request_link(email).await;
        self.finish_reset(&link, email).await;
    }

    /// POSTs a reset request for `email`: the URL of the emailed link on this server.
    pub async fn request_link(&self, email: &str) -> String {
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
    pub async fn finish_reset(&self, validate_url: &str, email: &str) {
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
}
