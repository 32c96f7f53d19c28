//! Where the pages are as the browser reaches them, and whether a form post came from them.

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Uri};
use url::Url;

use crate::serve::cookies;

/// The absolute URL of a database's pages folder, e.g.
/// `http://127.0.0.1:8080/v2/databases/app/auth/pages`: the reset link the email carries and
/// the default callback are built on it.
pub struct PagesAddress {
    base: String,
}

impl PagesAddress {
    /// Under `--public-url` when set; otherwise this request's Host, with https when the request
    /// gets secure cookies. The database checks the origin of every link built on it against
    /// its trusted origins, so a forged Host gets no link out of it.
    pub fn of(
        public_url: Option<&Url>,
        headers: &HeaderMap,
        uri: &Uri,
        database: &str,
    ) -> Option<PagesAddress> {
        let root = match public_url {
            Some(public) => {
                let mut root = public.clone();
                root.set_query(None);
                root.set_fragment(None);
                root.as_str().trim_end_matches('/').to_owned()
            }
            None => {
                let scheme = if cookies::secure(headers, None) {
                    "https"
                } else {
                    "http"
                };
                request_authority(headers, uri, scheme)?
                    .origin()
                    .ascii_serialization()
            }
        };
        // Database names are plain (databases.rs), so they need no escaping in a path.
        Some(PagesAddress {
            base: format!("{root}/v2/databases/{database}/auth/pages"),
        })
    }

    /// The absolute URL of page `name`, e.g. `reset-password`.
    pub fn page(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    /// Whether `url` is page `name` itself, whatever its query.
    pub fn is_page(&self, url: &str, name: &str) -> bool {
        let (Ok(url), Ok(page)) = (Url::parse(url), Url::parse(&self.page(name))) else {
            return false;
        };
        url.origin() == page.origin() && url.path() == page.path()
    }
}

/// Whether a form post comes from our own pages, as far as the browser says:
/// `Sec-Fetch-Site`, when sent, must be `same-origin`, and `Origin`, when sent and not `null`,
/// must be ours (`--public-url`'s origin, else this request's host and port, whatever the
/// scheme: a TLS-terminating proxy hides it). Browsers send `Origin: null` for every form post
/// from a page under `Referrer-Policy: no-referrer` (ours), so `null` proves nothing either way:
/// the CSRF token and the SameSite cookie still decide.
pub fn posted_from_our_pages(headers: &HeaderMap, uri: &Uri, public_url: Option<&Url>) -> bool {
    // Every value counts: a browser sends one, and a second one must not hide a foreign first.
    let same_origin_fetch = headers
        .get_all("sec-fetch-site")
        .iter()
        .all(|site| site.as_bytes() == b"same-origin");
    same_origin_fetch
        && headers
            .get_all(ORIGIN)
            .iter()
            .all(|origin| is_our_origin(origin.to_str().ok(), headers, uri, public_url))
}

fn is_our_origin(
    origin: Option<&str>,
    headers: &HeaderMap,
    uri: &Uri,
    public_url: Option<&Url>,
) -> bool {
    let Some(origin) = origin else {
        return false;
    };
    if origin == "null" {
        return true;
    }
    let Ok(origin) = Url::parse(origin) else {
        return false;
    };
    match public_url {
        Some(public) => origin.origin() == public.origin(),
        None => request_authority(headers, uri, origin.scheme()).is_some_and(|ours| {
            ours.host_str() == origin.host_str() && ours.port() == origin.port()
        }),
    }
}

/// `scheme://` and the authority the request was sent to (Host; HTTP/2's `:authority`), when
/// it is a plain `host[:port]` every URL parser reads alike.
fn request_authority(headers: &HeaderMap, uri: &Uri, scheme: &str) -> Option<Url> {
    let authority = match headers.get(HOST) {
        Some(host) => host.to_str().ok()?,
        None => uri.authority()?.as_str(),
    };
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace())
    {
        return None;
    }
    let url = format!("{scheme}://{authority}/");
    if nile_reset_urls::is_ambiguous(&url) {
        return None;
    }
    Url::parse(&url).ok().filter(|url| url.host_str().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::test_headers::headers;

    fn uri() -> Uri {
        Uri::from_static("/v2/databases/app/auth/pages/forgot-password")
    }

    #[test]
    fn the_pages_live_under_the_public_url_else_the_host() {
        let public: Url = "https://auth.example.com/nile/".parse().unwrap();
        let host = headers(&[("host", "127.0.0.1:8080")]);
        let address = PagesAddress::of(Some(&public), &host, &uri(), "app").unwrap();
        assert_eq!(
            address.page("done"),
            "https://auth.example.com/nile/v2/databases/app/auth/pages/done"
        );
        let address = PagesAddress::of(None, &host, &uri(), "app").unwrap();
        assert_eq!(
            address.page("reset-password"),
            "http://127.0.0.1:8080/v2/databases/app/auth/pages/reset-password"
        );
        let secure = headers(&[
            ("host", "auth.example.com"),
            ("nile-secure-cookies", "true"),
        ]);
        let address = PagesAddress::of(None, &secure, &uri(), "app").unwrap();
        assert!(address
            .page("done")
            .starts_with("https://auth.example.com/v2/"));
        // HTTP/2: the authority comes with the request's URI.
        let absolute = Uri::from_static("http://[::1]:9/v2/databases/app/auth/pages/done");
        let address = PagesAddress::of(None, &HeaderMap::new(), &absolute, "app").unwrap();
        assert!(address.page("done").starts_with("http://[::1]:9/v2/"));
    }

    #[test]
    fn hosts_that_are_not_plain_authorities_give_no_address() {
        for host in [
            "",
            "evil.example/path",
            "a@evil.example",
            "evil.example\\x",
            "host with space",
            "0x7f.1:8080",
        ] {
            let request = headers(&[("host", host)]);
            assert!(
                PagesAddress::of(None, &request, &uri(), "app").is_none(),
                "{host:?}"
            );
        }
    }

    #[test]
    fn a_page_is_recognized_whatever_its_query() {
        let host = headers(&[("host", "127.0.0.1:8080")]);
        let address = PagesAddress::of(None, &host, &uri(), "app").unwrap();
        let done = address.page("done");
        assert!(address.is_page(&done, "done"));
        assert!(address.is_page(&format!("{done}?callbackUrl=x"), "done"));
        assert!(!address.is_page("http://localhost:3000/done", "done"));
        assert!(!address.is_page(&done, "reset-password"));
    }

    #[test]
    fn posts_from_another_origin_are_refused() {
        let public: Url = "https://auth.example.com".parse().unwrap();
        let ours = |pairs: &[(&'static str, &str)], public: Option<&Url>| {
            let mut all = vec![("host", "127.0.0.1:8080")];
            all.extend_from_slice(pairs);
            posted_from_our_pages(&headers(&all), &uri(), public)
        };
        // Nothing said (an old browser, curl): the CSRF token decides.
        assert!(ours(&[], None));
        assert!(ours(&[("origin", "http://127.0.0.1:8080")], None));
        assert!(ours(
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
            None
        ));
        // Behind a TLS-terminating proxy, the browser's https origin is still ours.
        assert!(ours(&[("origin", "https://127.0.0.1:8080")], None));
        assert!(!ours(&[("origin", "http://evil.example")], None));
        assert!(!ours(&[("origin", "http://127.0.0.1:8081")], None));
        assert!(!ours(&[("origin", "not a url")], None));
        assert!(!ours(&[("sec-fetch-site", "cross-site")], None));
        assert!(!ours(&[("sec-fetch-site", "same-site")], None));
        assert!(!ours(
            &[("origin", "null"), ("sec-fetch-site", "cross-site")],
            None
        ));
        // A second value does not hide a foreign first one.
        assert!(!ours(
            &[
                ("origin", "http://evil.example"),
                ("origin", "http://127.0.0.1:8080")
            ],
            None
        ));
        assert!(!ours(
            &[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-site", "same-origin")
            ],
            None
        ));
        // With a public URL, its origin is the one.
        assert!(ours(
            &[("origin", "https://auth.example.com")],
            Some(&public)
        ));
        assert!(!ours(&[("origin", "http://127.0.0.1:8080")], Some(&public)));
        assert!(!ours(
            &[("origin", "http://auth.example.com")],
            Some(&public)
        ));
    }
}
