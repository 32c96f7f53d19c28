//! callbackUrl and redirectUrl that URL parsers read differently: refused, never normalized.

use reqwest::StatusCode;
use serde_json::json;

use super::alice_request;
use crate::support::fixture::{text, RESET};
use crate::support::Fixture;

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
