//! `GET /v2/databases/{database}/auth/reset-password`: the emailed link opened, its answers,
//! and wrong guesses of its token.

use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::json;

use super::alice_request;
use crate::support::cluster::replace_function;
use crate::support::fixture::{cookie_pair, set_cookie, text, APP_ORIGIN, NEW_PASSWORD, RESET};
use crate::support::statements::StatementLog;
use crate::support::tables::{TOKENS, USERS};
use crate::support::{Cluster, Fixture};

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

/// A GET of a link for `identifier` with a wrong token and `callback`.
async fn wrong_guess(f: &Fixture, identifier: &str, callback: &str) -> StatusCode {
    f.http
        .get(f.api(RESET))
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
                wrong_guess(&f, identifier, "https://evil.example/").await,
                StatusCode::BAD_REQUEST
            );
        }
    }
    for _ in 0..4 {
        assert_eq!(
            wrong_guess(&f, "alice@example.com", &format!("{APP_ORIGIN}/signed-in")).await,
            StatusCode::OK
        );
    }
    f.finish_reset(&link, "alice@example.com").await;
}

/// The statements `log` recorded since the last call.
fn round_trips(log: &StatementLog) -> Vec<String> {
    log.take()
}

/// The release of session locks on its own, after a statement that failed before its own
/// release (see `owner_code`).
const LONE_RELEASE: &str = "SELECT pg_catalog.pg_advisory_unlock_all()";

/// The link costs one round trip: the callback URL and the token are checked in one statement,
/// which also releases the session's advisory locks. A statement refused falls back to the
/// check without the token, to tell whose refusal it was (the link's: its error; the token's:
/// an invalid link), and never verifies it again.
#[tokio::test]
async fn a_link_is_checked_in_one_round_trip() {
    let name = "http_one_round_trip";
    let log = StatementLog::start(Cluster::shared().port);
    let f = Fixture::with_dsn(name, &log.url(name), &[]).await;
    let link = f.request_link("alice@example.com").await;
    let token = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "token")
        .unwrap()
        .1
        .into_owned();
    let trusted = format!("{APP_ORIGIN}/signed-in");
    let invalid = format!("{trusted}?error=Token%20is%20invalid");
    let open = |token: &str, identifier: &str, callback: &str| {
        f.http.get(f.api(RESET)).query(&[
            ("token", token),
            ("identifier", identifier),
            ("callbackUrl", callback),
        ])
    };
    let tokens = || async {
        let sql = format!("SELECT count(*) FROM {TOKENS}");
        f.db.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0)
    };
    round_trips(&log);

    let response = f.http.get(&link).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[LOCATION], trusted.as_str());
    assert!(set_cookie(response.headers(), "nile.reset").is_some());
    let statements = round_trips(&log);
    assert_eq!(statements.len(), 1, "{statements:#?}");
    assert!(
        statements[0].contains("auth.is_trusted_url")
            && statements[0].contains("auth.verify_password_token")
            && statements[0].contains("pg_advisory_unlock_all"),
        "{statements:#?}"
    );

    // A token PostgreSQL refuses (NUL): an invalid link, its token verified once.
    let response = open("\0", "alice@example.com", &trusted)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[LOCATION], invalid.as_str());
    assert!(set_cookie(response.headers(), "nile.reset").is_none());
    let statements = round_trips(&log);
    assert_eq!(statements.len(), 3, "{statements:#?}");
    assert_eq!(statements[1], LONE_RELEASE, "{statements:#?}");
    assert!(
        !statements[2].contains("verify_password_token"),
        "{statements:#?}"
    );
    // Refused for its callback URL first.
    let (status, message) = text(open("\0", "alice@example.com", "https://evil.example/")).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "callbackUrl origin is not trusted")
    );
    // An identifier PostgreSQL refuses: the link's error, whatever the callback URL.
    for callback in [trusted.as_str(), "https://evil.example/"] {
        let (status, message) = text(open(&token, "alice\0@example.com", callback)).await;
        assert_eq!(
            (status, message.as_str()),
            (
                StatusCode::BAD_REQUEST,
                "invalid byte sequence for encoding \"UTF8\": 0x00"
            ),
            "{callback}"
        );
    }

    // Alice's email changes: verifying her token would now delete it. A link refused for its
    // callback URL leaves it alone; a trusted one verifies it.
    f.db.execute(
        &format!("UPDATE {USERS} SET email = 'alice@elsewhere.example'"),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(tokens().await, 1);
    let (status, message) = text(open(&token, "alice@example.com", "https://evil.example/")).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, "callbackUrl origin is not trusted")
    );
    assert_eq!(tokens().await, 1);
    let response = open(&token, "alice@example.com", &trusted)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[LOCATION], invalid.as_str());
    assert_eq!(tokens().await, 0);
}
