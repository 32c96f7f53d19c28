//! The HTTP application in-process (axum's testing pattern: `tower::ServiceExt::oneshot`), for
//! every answer that needs no database: cookies, refusals before any SQL, headers, 404, 413,
//! the documents served. The database configured here is never reachable, so a test that
//! reached it by mistake would get 400 "Unable to process request" and fail.
//! What needs PostgreSQL is tested through a real socket in the `http` module.

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use nile_reset_shim::database::EXTENSION_VERSION;
use nile_reset_shim::serve::{self, ApiKeys, NamedDatabase, Secret, ServeConfig};
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::support::csrf_signature;
use crate::support::ports::REFUSED;
use crate::support::process::{API_KEY, SECRET};

const RESET: &str = "/v2/databases/app/auth/reset-password";
const CSRF: &str = "/v2/databases/app/auth/csrf";

fn config() -> ServeConfig {
    ServeConfig {
        // Nothing listens there, so any connection attempt fails at once.
        databases: vec![NamedDatabase {
            name: "app".into(),
            dsn: format!("postgres://nobody@127.0.0.1:{REFUSED}/app"),
        }],
        secret: Secret::new(SECRET).unwrap(),
        api_keys: ApiKeys::new([("app", API_KEY)]).unwrap(),
        public_url: None,
        body_limit: 1024,
        request_timeout: Duration::from_secs(10),
        db_timeout: Duration::from_secs(2),
        pool_size: 2,
        rate_limit_per_minute: 0,
        client_ip_header: None,
        ipv6_prefix_length: 64,
        uniform_status: false,
        min_response_time: Duration::ZERO,
        pages: None,
    }
}

fn app() -> Router {
    serve::router(config()).unwrap()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn call(app: Router, request: Request<Body>) -> Answer {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

fn get(uri: &str) -> Request<Body> {
    request(Method::GET, uri).body(Body::empty()).unwrap()
}

fn json_request(method: Method, uri: &str, body: &Value) -> Request<Body> {
    request(method, uri)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn set_cookie(answer: &Answer) -> &str {
    answer.headers[SET_COOKIE].to_str().unwrap()
}

#[tokio::test]
async fn csrf_cookie_is_nile_s_and_follows_the_secure_headers() {
    let answer = call(app(), get(CSRF)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let token = serde_json::from_str::<Value>(&answer.body).unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(
        set_cookie(&answer),
        format!(
            "nile.csrf-token={token}%7C{}; Path=/; HttpOnly; SameSite=Lax",
            csrf_signature("app", &token)
        )
    );

    let secure = request(Method::GET, CSRF)
        .header("nile-origin", "https://app.example.com")
        .body(Body::empty())
        .unwrap();
    let answer = call(app(), secure).await;
    assert!(
        set_cookie(&answer).starts_with("__Secure-nile.csrf-token=")
            && set_cookie(&answer).ends_with("; Secure"),
        "{}",
        set_cookie(&answer)
    );
    // The explicit header wins over an https public URL.
    let app = serve::router(ServeConfig {
        public_url: Some("https://auth.example.com".parse().unwrap()),
        ..config()
    })
    .unwrap();
    let insecure = request(Method::GET, CSRF)
        .header("nile-secure-cookies", "false")
        .body(Body::empty())
        .unwrap();
    assert!(set_cookie(&call(app.clone(), insecure).await).starts_with("nile.csrf-token="));
    assert!(set_cookie(&call(app, get(CSRF)).await).starts_with("__Secure-nile.csrf-token="));
}

#[tokio::test]
async fn reset_requests_are_refused_before_any_sql() {
    let alice = json!({"email": "alice@example.com", "callbackUrl": "http://localhost:3000/"});
    // Email first, then the CSRF cookie (Nile's order).
    let answer = call(app(), json_request(Method::POST, RESET, &json!({}))).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::BAD_REQUEST, "Email is required")
    );
    let answer = call(app(), json_request(Method::POST, RESET, &alice)).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::NOT_FOUND, "Missing csrf")
    );
    let forged = request(Method::POST, RESET)
        .header(COOKIE, format!("nile.csrf-token=abc%7C{}", "0".repeat(64)))
        .body(Body::from(alice.to_string()))
        .unwrap();
    assert_eq!(call(app(), forged).await.status, StatusCode::NOT_FOUND);
    let not_json = request(Method::POST, RESET)
        .body(Body::from("{not json"))
        .unwrap();
    assert_eq!(
        call(app(), not_json).await.body,
        "Request body must be valid JSON"
    );
    // json=true needs the API key as a bearer token.
    let uri = format!("{RESET}?json=true");
    let answer = call(app(), json_request(Method::POST, &uri, &alice)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let wrong_key = request(Method::POST, &uri)
        .header("authorization", "Bearer wrong-key-0123456789abcdef")
        .body(Body::from(alice.to_string()))
        .unwrap();
    assert_eq!(
        call(app(), wrong_key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn password_changes_are_refused_before_any_sql() {
    let alice = json!({"email": "alice@example.com", "password": "correct horse battery"});
    let answer = call(app(), json_request(Method::PUT, RESET, &alice)).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::BAD_REQUEST, "Missing reset token")
    );
    // Not a signed value at all (a cookie signed for another account needs the database's
    // normalization of the email, so the `http` module covers it).
    let for_bob = request(Method::PUT, RESET)
        .header(COOKIE, "nile.reset=t0k3n")
        .body(Body::from(alice.to_string()))
        .unwrap();
    let answer = call(app(), for_bob).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::BAD_REQUEST, "Unable to process request")
    );
    // A link whose parameters are missing.
    let answer = call(app(), get(&format!("{RESET}?identifier=a%40b.c"))).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::BAD_REQUEST, "Missing token")
    );
}

#[tokio::test]
async fn bodies_that_repeat_a_key_get_400_before_any_sql() {
    let repeated = r#"{"email": "alice@example.com", "email": "eve@example.com", "password": "p"}"#;
    for method in [Method::POST, Method::PUT] {
        let answer = call(
            app(),
            request(method.clone(), RESET)
                .body(Body::from(repeated))
                .unwrap(),
        )
        .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (
                StatusCode::BAD_REQUEST,
                "Request body must not repeat a key"
            ),
            "{method}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let big = json!({"email": "alice@example.com", "padding": "x".repeat(2048)});
    for method in [Method::POST, Method::PUT] {
        let answer = call(app(), json_request(method.clone(), RESET, &big)).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
            "{method}"
        );
    }
}

#[tokio::test]
async fn unknown_databases_and_routes_get_404_with_the_security_headers() {
    for (uri, body) in [
        ("/v2/databases/other/auth/csrf", "Unknown database"),
        (
            "/v2/databases/other/auth/reset-password?token=t&identifier=i&callbackUrl=http://x",
            "Unknown database",
        ),
        ("/nothing/here", "Not found"),
    ] {
        let answer = call(app(), get(uri)).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::NOT_FOUND, body),
            "{uri}"
        );
        assert_eq!(answer.headers[CACHE_CONTROL], "no-store", "{uri}");
        assert_eq!(answer.headers["referrer-policy"], "no-referrer", "{uri}");
        assert_eq!(answer.headers["x-content-type-options"], "nosniff", "{uri}");
    }
}

#[tokio::test]
async fn documents_health_and_metrics() {
    let answer = call(app(), get("/openapi.yaml")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
    );

    // Health and metrics are not on the public router.
    for path in ["/healthz", "/metrics"] {
        assert_eq!(call(app(), get(path)).await.status, StatusCode::NOT_FOUND);
    }
    let admin = || serve::routers(config()).unwrap().admin;

    // The database cannot be reached: unhealthy, and the body names no database.
    let answer = call(admin(), get("/healthz")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap(),
        json!({"status": "unavailable", "built_for": EXTENSION_VERSION})
    );

    let routers = serve::routers(config()).unwrap();
    call(routers.public, get(CSRF)).await;
    let answer = call(routers.admin, get("/metrics")).await;
    assert!(
        answer.body.contains(
            r#"nile_reset_http_requests_total{method="GET",route="/v2/databases/{database}/auth/csrf",status="200"} 1"#
        ),
        "{}",
        answer.body
    );
}
