//! What the "choose a new password" form needs between the emailed link and the form post,
//! kept out of the address bar and out of the form.
//!
//! The link's token goes into the API's own reset cookie (`nile.reset`, bound to the token's
//! identifier). The identifier, which the reset cookie's signature covers but does not carry,
//! and the callback URL go into a second cookie, `nile.reset-page`, signed over the database,
//! the token, the identifier and the callback URL: neither can be changed, nor moved to another
//! token, without the cookie secret. Hidden form fields would be just as visible and no safer.

use axum::http::{HeaderMap, HeaderValue};
use url::form_urlencoded;

use crate::serve::cookies::{self, ResetCookie};
use crate::serve::secret::Secret;

const PAGE_COOKIE: &str = "nile.reset-page";
const PAGE_LABEL: &str = "nile-reset reset-page v1";
/// As long as the API's reset cookie lives.
const PAGE_COOKIE_MAX_AGE: u32 = 14_400;

/// A reset in progress: the token from the link and what it was issued for.
pub struct ResetState {
    pub token: String,
    /// The identifier as the database normalizes it.
    pub identifier: String,
    /// Trusted by the database when the link was opened.
    pub callback_url: String,
}

impl ResetState {
    /// The two `Set-Cookie` values that keep this state: the API's reset cookie and ours.
    pub fn set_cookies(&self, secret: &Secret, database: &str, secure: bool) -> [HeaderValue; 2] {
        let reset = cookies::reset_cookie(secret, database, &self.token, &self.identifier, secure);
        let signature = secret.sign(
            PAGE_LABEL,
            &[database, &self.token, &self.identifier, &self.callback_url],
        );
        // Form encoding leaves only letters, digits, `*-._%+&=`: all allowed in a cookie value.
        let value = form_urlencoded::Serializer::new(String::new())
            .append_pair("identifier", &self.identifier)
            .append_pair("callbackUrl", &self.callback_url)
            .append_pair("signature", &signature)
            .finish();
        let page = set_cookie(
            &page_cookie_name(secure),
            &value,
            PAGE_COOKIE_MAX_AGE,
            secure,
        );
        [reset, page]
    }

    /// The state the request's two cookies carry, when both are there and signed by us for each
    /// other and for `database`.
    pub fn read(
        headers: &HeaderMap,
        secret: &Secret,
        database: &str,
        secure: bool,
    ) -> Option<ResetState> {
        let raw = cookies::read(headers, &page_cookie_name(secure))?;
        let (mut identifier, mut callback_url, mut signature) = (None, None, None);
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = match name.as_ref() {
                "identifier" => &mut identifier,
                "callbackUrl" => &mut callback_url,
                "signature" => &mut signature,
                _ => return None,
            };
            // A repeated field is no cookie of ours.
            if slot.replace(value.into_owned()).is_some() {
                return None;
            }
        }
        let (identifier, callback_url, signature) = (identifier?, callback_url?, signature?);
        let ResetCookie::Valid(token) =
            cookies::read_reset(headers, secure).verify(secret, database, &identifier)
        else {
            return None;
        };
        secret
            .verify(
                PAGE_LABEL,
                &[database, &token, &identifier, &callback_url],
                &signature,
            )
            .then_some(ResetState {
                token,
                identifier,
                callback_url,
            })
    }

    /// The `Set-Cookie` values that end a reset: both cookies expired.
    pub fn clear_cookies(secure: bool) -> [HeaderValue; 2] {
        [
            cookies::clear_reset_cookie(secure),
            set_cookie(&page_cookie_name(secure), "", 0, secure),
        ]
    }
}

fn page_cookie_name(secure: bool) -> String {
    if secure {
        format!("__Secure-{PAGE_COOKIE}")
    } else {
        PAGE_COOKIE.to_owned()
    }
}

/// The attributes of the API's cookies (cookies.rs): HttpOnly, SameSite=Lax, Path=/.
fn set_cookie(name: &str, value: &str, max_age: u32, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::try_from(cookie).expect("names are ours and values form-encoded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    fn secret() -> Secret {
        Secret::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn state() -> ResetState {
        ResetState {
            token: "t0k3n".into(),
            identifier: "a+b@example.com".into(),
            callback_url: "http://localhost:3000/done?x=1&y=2".into(),
        }
    }

    /// The request a browser sends back after `set_cookies`.
    fn sent(cookies: &[HeaderValue]) -> HeaderMap {
        let pairs: Vec<&str> = cookies
            .iter()
            .map(|cookie| cookie.to_str().unwrap().split(';').next().unwrap())
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&pairs.join("; ")).unwrap());
        headers
    }

    #[test]
    fn the_state_comes_back_from_its_cookies() {
        let secret = secret();
        let cookies = state().set_cookies(&secret, "app", false);
        let page = cookies[1].to_str().unwrap();
        assert!(
            page.starts_with("nile.reset-page=identifier=a%2Bb%40example.com&"),
            "{page}"
        );
        assert!(
            page.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=14400"),
            "{page}"
        );
        let read = ResetState::read(&sent(&cookies), &secret, "app", false).unwrap();
        assert_eq!(read.token, "t0k3n");
        assert_eq!(read.identifier, "a+b@example.com");
        assert_eq!(read.callback_url, "http://localhost:3000/done?x=1&y=2");
        // Another database, or the secure cookies' names, find nothing.
        assert!(ResetState::read(&sent(&cookies), &secret, "other", false).is_none());
        assert!(ResetState::read(&sent(&cookies), &secret, "app", true).is_none());
        let secure = state().set_cookies(&secret, "app", true);
        assert!(secure[1]
            .to_str()
            .unwrap()
            .starts_with("__Secure-nile.reset-page="));
        assert!(ResetState::read(&sent(&secure), &secret, "app", true).is_some());
    }

    #[test]
    fn a_changed_or_lone_cookie_is_refused() {
        let secret = secret();
        let cookies = state().set_cookies(&secret, "app", false);
        // name=value of each Set-Cookie, as a browser sends it back.
        let pair = |i: usize| {
            cookies[i]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        };
        let (reset, page) = (pair(0), pair(1));
        let read = |cookie: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
            ResetState::read(&headers, &secret, "app", false).is_some()
        };
        assert!(read(&format!("{reset}; {page}")));
        assert!(!read(&page));
        assert!(!read(&reset));
        let evil_callback = page.replace("localhost%3A3000", "evil.example");
        assert!(!read(&format!("{reset}; {evil_callback}")));
        let other_identifier = page.replace("a%2Bb", "eve");
        assert!(!read(&format!("{reset}; {other_identifier}")));
        let repeated = format!("{page}&identifier=eve%40example.com");
        assert!(!read(&format!("{reset}; {repeated}")));
        // The page cookie of another token does not go with this reset cookie.
        let other = ResetState {
            token: "other".into(),
            ..state()
        };
        let other_page = other.set_cookies(&secret, "app", false)[1]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert!(!read(&format!("{reset}; {other_page}")));
    }

    #[test]
    fn clearing_expires_both_cookies() {
        let [reset, page] = ResetState::clear_cookies(false);
        assert_eq!(
            reset.to_str().unwrap(),
            "nile.reset=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
        assert_eq!(
            page.to_str().unwrap(),
            "nile.reset-page=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
