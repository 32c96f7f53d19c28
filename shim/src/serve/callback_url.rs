//! The callback URL of a reset request, completed the way Nile's clients expect: a body without
//! `callbackUrl` falls back to Nile's `nile.callback-url` cookie, and a relative URL (the React
//! forms default to `/`) is resolved against the request's `nile-origin` header, else the
//! `redirectUrl`'s origin. The result still goes through the database's URL rules and origin
//! allow-list, so nothing here decides what is trusted.

use axum::http::HeaderMap;
use percent_encoding::percent_decode_str;
use url::Url;

use super::cookies;

const CALLBACK_COOKIE: &str = "nile.callback-url";

/// The callback URL to hand to the database: `from_body`, else the callback cookie, resolved
/// when relative. A value this cannot resolve is passed on unchanged, for the database to
/// refuse with its own message.
pub fn resolve(
    from_body: Option<&str>,
    redirect_url: Option<&str>,
    headers: &HeaderMap,
    secure: bool,
) -> Option<String> {
    let callback = match from_body.filter(|value| !value.is_empty()) {
        Some(value) => value.to_owned(),
        None => from_cookie(headers, secure)?,
    };
    if !is_path(&callback) {
        return Some(callback);
    }
    let base = headers
        .get("nile-origin")
        .and_then(|value| value.to_str().ok())
        .and_then(http_origin)
        .or_else(|| redirect_url.and_then(http_origin));
    Some(match base.and_then(|base| base.join(&callback).ok()) {
        Some(resolved) => resolved.into(),
        None => callback,
    })
}

/// Nile's callback cookie (`__Secure-` prefixed when secure cookies are on), URL-decoded.
fn from_cookie(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = if secure {
        format!("__Secure-{CALLBACK_COOKIE}")
    } else {
        CALLBACK_COOKIE.to_owned()
    };
    let raw = cookies::read(headers, &name)?;
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

/// An absolute path on the same origin. `//host/...` and `/\host` are not: browsers read them
/// as another host.
fn is_path(value: &str) -> bool {
    value.starts_with('/') && !value.starts_with("//") && !value.starts_with("/\\")
}

/// The origin of an absolute http(s) URL, as a base to resolve paths against.
fn http_origin(value: &str) -> Option<Url> {
    let url = Url::parse(value).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    Url::parse(&url.origin().ascii_serialization()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::test_headers::headers;

    const REDIRECT: Option<&str> = Some("https://app.example.com/auth/reset-password");

    #[test]
    fn absolute_urls_pass_unchanged() {
        let origin = headers(&[("nile-origin", "http://localhost:3000")]);
        assert_eq!(
            resolve(
                Some("https://other.example/x?y=1"),
                REDIRECT,
                &origin,
                false
            )
            .as_deref(),
            Some("https://other.example/x?y=1")
        );
    }

    #[test]
    fn paths_resolve_against_nile_origin_then_the_redirect_url() {
        let origin = headers(&[("nile-origin", "http://localhost:3000/ignored/path")]);
        assert_eq!(
            resolve(Some("/"), REDIRECT, &origin, false).as_deref(),
            Some("http://localhost:3000/")
        );
        assert_eq!(
            resolve(Some("/done?x=1#top"), REDIRECT, &HeaderMap::new(), false).as_deref(),
            Some("https://app.example.com/done?x=1#top")
        );
        // A nile-origin that is not an http(s) origin is no base.
        let bogus = headers(&[("nile-origin", "javascript:alert(1)")]);
        assert_eq!(
            resolve(Some("/"), REDIRECT, &bogus, false).as_deref(),
            Some("https://app.example.com/")
        );
    }

    #[test]
    fn unresolvable_values_are_left_for_the_database_to_refuse() {
        assert_eq!(
            resolve(Some("/"), None, &HeaderMap::new(), false).as_deref(),
            Some("/")
        );
        let origin = headers(&[("nile-origin", "http://localhost:3000")]);
        for other_host in ["//evil.example/x", "/\\evil.example/x", "done"] {
            assert_eq!(
                resolve(Some(other_host), REDIRECT, &origin, false).as_deref(),
                Some(other_host)
            );
        }
    }

    #[test]
    fn the_callback_cookie_fills_a_missing_callback() {
        let jar = headers(&[
            (
                "cookie",
                "a=b; nile.callback-url=http%3A%2F%2Flocalhost%3A3000%2Fhome",
            ),
            ("cookie", "__Secure-nile.callback-url=%2Fsecure"),
        ]);
        assert_eq!(
            resolve(None, REDIRECT, &jar, false).as_deref(),
            Some("http://localhost:3000/home")
        );
        assert_eq!(
            resolve(Some(""), REDIRECT, &jar, true).as_deref(),
            Some("https://app.example.com/secure")
        );
        // The body wins over the cookie; no body value and no cookie: nothing.
        assert_eq!(
            resolve(Some("https://x.example/"), REDIRECT, &jar, false).as_deref(),
            Some("https://x.example/")
        );
        assert_eq!(resolve(None, REDIRECT, &HeaderMap::new(), false), None);
    }
}
