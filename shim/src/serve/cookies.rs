//! Nile's two cookies, with Nile's names and `token%7Csignature` shape (its SDK only passes
//! them along) but signed with HMAC (see `secret`):
//! - `nile.csrf-token=<token>%7C<hmac("csrf", database, token)>`: the double-submit CSRF cookie
//!   (NextAuth v4 format) that reset requests must carry.
//! - `nile.reset=<token>%7C<hmac("reset", database, token, identifier)>`: set once a reset link
//!   checks out, so the token leaves the URL before the password form; the PUT reads it back.
//!
//! The database name is signed in, so a cookie minted for one served database is refused by
//! every other one, and the labels keep one cookie from ever passing for the other.
//!
//! Both are HttpOnly, SameSite=Lax, Path=/, and get the `__Secure-` name prefix plus `Secure`
//! when secure cookies are on (decided per request, as Nile does).

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use super::secret::{random_bytes, Secret};

const CSRF_COOKIE: &str = "nile.csrf-token";
const RESET_COOKIE: &str = "nile.reset";
/// Purpose labels of the signatures.
const CSRF_LABEL: &str = "nile-reset csrf-token v1";
const RESET_LABEL: &str = "nile-reset reset v1";
/// Nile's reset cookie lifetime: 4 hours.
const RESET_COOKIE_MAX_AGE: u32 = 14_400;

/// What JavaScript's `encodeURIComponent` leaves alone; Nile encodes cookie values with it.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Whether this request gets secure cookies: header `nile-secure-cookies` decides when present;
/// otherwise the origin (header `nile-origin`, else our configured public URL) must be https.
/// Nile falls back to the request URL, which behind a TLS-terminating proxy is plain http.
pub fn secure(headers: &HeaderMap, public_url: Option<&Url>) -> bool {
    if let Some(value) = headers.get("nile-secure-cookies") {
        return value.as_bytes() == b"true";
    }
    let origin = headers
        .get("nile-origin")
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
        .or(public_url.map(Url::as_str));
    origin.is_some_and(|origin| origin.starts_with("https://"))
}

pub fn csrf_cookie_name(secure: bool) -> String {
    cookie_name(CSRF_COOKIE, secure)
}

pub fn reset_cookie_name(secure: bool) -> String {
    cookie_name(RESET_COOKIE, secure)
}

fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Secure-{base}")
    } else {
        base.to_owned()
    }
}

/// The value of cookie `name` in the request's `Cookie` headers, as sent (still URL-encoded).
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A fresh CSRF token and the `Set-Cookie` value that carries its signature.
pub struct CsrfToken {
    pub token: String,
    pub set_cookie: HeaderValue,
}

pub fn issue_csrf(secret: &Secret, database: &str, secure: bool) -> anyhow::Result<CsrfToken> {
    let token = hex::encode(random_bytes::<32>()?);
    let value = signed_value(&token, &secret.sign(CSRF_LABEL, &[database, &token]));
    let set_cookie = set_cookie(&csrf_cookie_name(secure), &value, secure, None);
    Ok(CsrfToken { token, set_cookie })
}

/// The token of a CSRF cookie whose signature checks out; `None` for a missing or forged one.
pub fn verify_csrf(
    headers: &HeaderMap,
    secret: &Secret,
    database: &str,
    secure: bool,
) -> Option<String> {
    let (token, signature) = split_signed(read(headers, &csrf_cookie_name(secure))?)?;
    secret
        .verify(CSRF_LABEL, &[database, &token], &signature)
        .then_some(token)
}

/// `Set-Cookie` for the reset cookie binding `token` to `identifier`.
pub fn reset_cookie(
    secret: &Secret,
    database: &str,
    token: &str,
    identifier: &str,
    secure: bool,
) -> HeaderValue {
    // The identifier rides along (signed with the token) so that a reset can name its user
    // without the client sending the email: Nile's React form sends only the password.
    let signature = secret.sign(RESET_LABEL, &[database, token, identifier]);
    let value = utf8_percent_encode(&format!("{token}|{identifier}|{signature}"), URI_COMPONENT)
        .to_string();
    set_cookie(
        &reset_cookie_name(secure),
        &value,
        secure,
        Some(RESET_COOKIE_MAX_AGE),
    )
}

/// `Set-Cookie` that deletes the reset cookie (the token is spent).
pub fn clear_reset_cookie(secure: bool) -> HeaderValue {
    set_cookie(&reset_cookie_name(secure), "", secure, Some(0))
}

/// How a reset cookie read back from a request turned out.
pub enum ResetCookie {
    Missing,
    /// Malformed, or not signed by us for this identifier.
    Forged,
    Valid(String),
}

/// A reset cookie as sent, split but not verified yet: verifying needs the identifier in the
/// database's normalization, which is asked for only when there is a cookie to check.
pub enum SentResetCookie {
    Missing,
    Malformed,
    Signed {
        token: String,
        /// The identifier it was issued for; None in a cookie set by 0.2.0 (`token|signature`).
        identifier: Option<String>,
        signature: String,
    },
}

/// Reads the reset cookie: `token|identifier|signature`, URL-encoded. The token (hex: the
/// cookie is only ever set for a token the database accepted) ends at the first `|`, the
/// signature (base64url) starts after the last, and the identifier is what lies between.
pub fn read_reset(headers: &HeaderMap, secure: bool) -> SentResetCookie {
    let Some(raw) = read(headers, &reset_cookie_name(secure)).filter(|raw| !raw.is_empty()) else {
        return SentResetCookie::Missing;
    };
    let Some((rest, signature)) = split_signed(raw) else {
        return SentResetCookie::Malformed;
    };
    let (token, identifier) = match rest.split_once('|') {
        Some((token, identifier)) => (token.to_owned(), Some(identifier.to_owned())),
        None => (rest, None),
    };
    if token.is_empty() {
        return SentResetCookie::Malformed;
    }
    SentResetCookie::Signed {
        token,
        identifier,
        signature,
    }
}

impl SentResetCookie {
    /// The identifier the cookie names, not verified yet (see `verify`).
    pub fn identifier(&self) -> Option<&str> {
        match self {
            SentResetCookie::Signed { identifier, .. } => identifier.as_deref(),
            _ => None,
        }
    }

    /// The token, if the cookie was signed by us for `identifier` in `database`.
    pub fn verify(self, secret: &Secret, database: &str, identifier: &str) -> ResetCookie {
        match self {
            SentResetCookie::Missing => ResetCookie::Missing,
            SentResetCookie::Malformed => ResetCookie::Forged,
            SentResetCookie::Signed {
                token, signature, ..
            } => {
                if secret.verify(RESET_LABEL, &[database, &token, identifier], &signature) {
                    ResetCookie::Valid(token)
                } else {
                    ResetCookie::Forged
                }
            }
        }
    }
}

#[cfg(test)]
fn verify_reset(
    headers: &HeaderMap,
    secret: &Secret,
    database: &str,
    identifier: &str,
    secure: bool,
) -> ResetCookie {
    read_reset(headers, secure).verify(secret, database, identifier)
}

fn signed_value(token: &str, signature: &str) -> String {
    utf8_percent_encode(&format!("{token}|{signature}"), URI_COMPONENT).to_string()
}

/// Splits a URL-encoded `token|signature` cookie value. The signature is hex, so the last `|`
/// is the separator whatever the token holds.
fn split_signed(raw: &str) -> Option<(String, String)> {
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    let (token, signature) = decoded.rsplit_once('|')?;
    (!token.is_empty()).then(|| (token.to_owned(), signature.to_owned()))
}

fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u32>) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    // Names are ours and values are percent-encoded, so this is always a valid header value.
    HeaderValue::try_from(cookie).expect("cookie is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::test_headers::headers;

    fn secret() -> Secret {
        Secret::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    /// The `name=value` part of a Set-Cookie header, as a browser would send it back.
    fn cookie_pair(set_cookie: &HeaderValue) -> String {
        set_cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn secure_cookies_follow_nile_headers_then_the_public_url() {
        let https = Url::parse("https://auth.example.com").unwrap();
        assert!(secure(&headers(&[("nile-secure-cookies", "true")]), None));
        assert!(!secure(
            &headers(&[("nile-secure-cookies", "false")]),
            Some(&https)
        ));
        assert!(secure(
            &headers(&[("nile-origin", "https://app.example.com")]),
            None
        ));
        assert!(!secure(
            &headers(&[("nile-origin", "http://localhost:3000")]),
            Some(&https)
        ));
        assert!(secure(&HeaderMap::new(), Some(&https)));
        assert!(!secure(&HeaderMap::new(), None));
    }

    #[test]
    fn csrf_cookie_has_nextauth_format_and_verifies() {
        let secret = secret();
        let issued = issue_csrf(&secret, "app", false).unwrap();
        let set_cookie = issued.set_cookie.to_str().unwrap();
        let expected = format!(
            "nile.csrf-token={}%7C{}; Path=/; HttpOnly; SameSite=Lax",
            issued.token,
            secret.sign(CSRF_LABEL, &["app", &issued.token])
        );
        assert_eq!(set_cookie, expected);
        let request = headers(&[(
            "cookie",
            &format!("a=b; {}", cookie_pair(&issued.set_cookie)),
        )]);
        assert_eq!(
            verify_csrf(&request, &secret, "app", false),
            Some(issued.token)
        );
        // Another database refuses it.
        assert_eq!(verify_csrf(&request, &secret, "other", false), None);
        // A secure request looks for the __Secure- name, which this request does not carry.
        assert_eq!(verify_csrf(&request, &secret, "app", true), None);
    }

    #[test]
    fn forged_csrf_cookies_are_refused() {
        let secret = secret();
        let forged = format!("nile.csrf-token=abc%7C{}", "0".repeat(64));
        assert_eq!(
            verify_csrf(&headers(&[("cookie", &forged)]), &secret, "app", false),
            None
        );
        assert_eq!(
            verify_csrf(
                &headers(&[("cookie", "nile.csrf-token=abc")]),
                &secret,
                "app",
                false
            ),
            None
        );
        assert_eq!(verify_csrf(&HeaderMap::new(), &secret, "app", false), None);
    }

    #[test]
    fn a_reset_cookie_is_never_a_csrf_cookie() {
        let secret = secret();
        // Nile's scheme signed `token + identifier` for both: the reset signature of (T, I)
        // was the CSRF signature of T‖I.
        let reset = reset_cookie(&secret, "app", "t0k3n", "a@b.c", false);
        let value = cookie_pair(&reset);
        let (_, signature) = value.split_once("%7C").unwrap();
        let as_csrf = format!("nile.csrf-token=t0k3na%40b.c%7C{signature}");
        assert_eq!(
            verify_csrf(&headers(&[("cookie", &as_csrf)]), &secret, "app", false),
            None
        );
    }

    #[test]
    fn secure_cookies_get_prefix_and_flag() {
        let issued = issue_csrf(&secret(), "app", true).unwrap();
        let set_cookie = issued.set_cookie.to_str().unwrap();
        assert!(set_cookie.starts_with("__Secure-nile.csrf-token="));
        assert!(set_cookie.ends_with("; Secure"));
    }

    #[test]
    fn reset_cookie_binds_token_to_identifier_and_database() {
        let secret = secret();
        let set_cookie = reset_cookie(&secret, "app", "t0k3n", "alice@example.com", false);
        assert_eq!(
            set_cookie.to_str().unwrap(),
            format!(
                "nile.reset=t0k3n%7Calice%40example.com%7C{}; Path=/; HttpOnly; SameSite=Lax; Max-Age=14400",
                secret.sign(RESET_LABEL, &["app", "t0k3n", "alice@example.com"])
            )
        );
        let request = headers(&[("cookie", &cookie_pair(&set_cookie))]);
        assert_eq!(
            read_reset(&request, false).identifier(),
            Some("alice@example.com")
        );
        assert!(matches!(
            verify_reset(&request, &secret, "app", "alice@example.com", false),
            ResetCookie::Valid(token) if token == "t0k3n"
        ));
        // 0.2.0's `token|signature` names no identifier and still verifies against the body's.
        let old = format!(
            "nile.reset=t0k3n%7C{}",
            secret.sign(RESET_LABEL, &["app", "t0k3n", "alice@example.com"])
        );
        let request_0_2 = headers(&[("cookie", &old)]);
        assert_eq!(read_reset(&request_0_2, false).identifier(), None);
        assert!(matches!(
            verify_reset(&request_0_2, &secret, "app", "alice@example.com", false),
            ResetCookie::Valid(token) if token == "t0k3n"
        ));
        assert!(matches!(
            verify_reset(&request, &secret, "app", "eve@example.com", false),
            ResetCookie::Forged
        ));
        assert!(matches!(
            verify_reset(&request, &secret, "other", "alice@example.com", false),
            ResetCookie::Forged
        ));
        assert!(matches!(
            verify_reset(
                &HeaderMap::new(),
                &secret,
                "app",
                "alice@example.com",
                false
            ),
            ResetCookie::Missing
        ));
    }

    #[test]
    fn clearing_the_reset_cookie_expires_it() {
        assert_eq!(
            clear_reset_cookie(true).to_str().unwrap(),
            "__Secure-nile.reset=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }
}
