//! The rules for URLs and origins, and the reset link in Nile's format.
//! Pure code, no SPI: the origin allow-list lookup happens in the caller.

use url::{form_urlencoded, Url};

use crate::error::ArgError;

pub const MAX_URL_CHARS: usize = 2048;

/// Query parameters of the link, in Nile's (URLSearchParams) order.
const LINK_PARAMS: [&str; 3] = ["token", "identifier", "callbackUrl"];

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Parses an absolute http(s) URL without userinfo whose authority every
/// parser reads alike (`nile_reset_urls`, the rule the HTTP shim applies
/// too). The WHATWG parser silently drops tabs and newlines and accepts
/// `http:host`, so those are rejected on the raw text first.
pub fn parse_http_url(name: &str, raw: &str) -> Result<Url, ArgError> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(ArgError::TooLong(format!(
            "{name} must be at most {MAX_URL_CHARS} characters"
        )));
    }
    if has_control(raw) || raw.contains(' ') {
        return Err(ArgError::Invalid(format!(
            "{name} must not contain spaces or control characters"
        )));
    }
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ArgError::Invalid(format!(
            "{name} must be an absolute http or https URL"
        )));
    }
    let url =
        Url::parse(raw).map_err(|_| ArgError::Invalid(format!("{name} is not a valid URL")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ArgError::Invalid(format!("{name} must name a host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ArgError::Invalid(format!(
            "{name} must not contain a user name or password"
        )));
    }
    if !nile_reset_urls::reads_alike(raw, &url) {
        return Err(ArgError::Invalid(format!(
            "{name} must name its host as every URL parser reads it: no backslash, no encoded, \
             full-width or numeric-shorthand host, no default-port or empty-authority tricks"
        )));
    }
    Ok(url)
}

/// `scheme://host[:port]`, lower-cased, default port dropped, IDNs in
/// punycode: the form kept in `nile_reset.trusted_origins`.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Parses an origin for the allow-list: a bare `scheme://host[:port]`,
/// optionally with a trailing slash. A path would suggest a scoping the
/// allow-list does not do.
pub fn parse_origin(raw: &str) -> Result<String, ArgError> {
    let url = parse_http_url("origin", raw)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(ArgError::Invalid(
            "origin must not have a path, query or fragment".into(),
        ));
    }
    Ok(origin_of(&url))
}

/// Nile's link for one redirect URL and one callback URL:
/// `{redirect_url}?token=..&identifier=..&callbackUrl=..`, form-encoded like
/// URLSearchParams. Parameters already in redirect_url are kept, except ones
/// with the link's own names, which are replaced. Everything but the token
/// and the identifier is the same on every call, so it is built once.
pub struct LinkPattern {
    /// The redirect URL without its fragment, its kept parameters, `token=`.
    head: String,
    /// `&callbackUrl=..` and the redirect URL's `#fragment`, if any.
    tail: String,
}

impl LinkPattern {
    pub fn new(redirect_url: &Url, callback_url: &str) -> Self {
        let mut base = redirect_url.clone();
        base.set_fragment(None);
        let kept: Vec<(String, String)> = base
            .query_pairs()
            .filter(|(name, _)| !LINK_PARAMS.contains(&name.as_ref()))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        {
            // The URL's own serializer, so the head is exactly what it writes.
            let mut query = base.query_pairs_mut();
            query.clear();
            for (name, value) in &kept {
                query.append_pair(name, value);
            }
            query.append_pair("token", "");
        }
        let mut tail = String::from("&callbackUrl=");
        tail.extend(form_urlencoded::byte_serialize(callback_url.as_bytes()));
        if let Some(fragment) = redirect_url.fragment() {
            tail.push('#');
            tail.push_str(fragment);
        }
        LinkPattern {
            head: base.into(),
            tail,
        }
    }

    /// The link carrying `token` for `identifier`.
    pub fn link(&self, token: &str, identifier: &str) -> String {
        let mut link = String::with_capacity(
            self.head.len() + token.len() + 3 * identifier.len() + self.tail.len() + 12,
        );
        link.push_str(&self.head);
        link.extend(form_urlencoded::byte_serialize(token.as_bytes()));
        link.push_str("&identifier=");
        link.extend(form_urlencoded::byte_serialize(identifier.as_bytes()));
        link.push_str(&self.tail);
        link
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> Url {
        parse_http_url("redirect_url", raw).unwrap()
    }

    fn reset_link(redirect_url: &Url, token: &str, identifier: &str, callback_url: &str) -> String {
        LinkPattern::new(redirect_url, callback_url).link(token, identifier)
    }

    /// The link as the URL's own query serializer writes it, in one go.
    fn link_by_url(
        redirect_url: &Url,
        token: &str,
        identifier: &str,
        callback_url: &str,
    ) -> String {
        let mut link = redirect_url.clone();
        let kept: Vec<(String, String)> = link
            .query_pairs()
            .filter(|(name, _)| !LINK_PARAMS.contains(&name.as_ref()))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        link.query_pairs_mut()
            .clear()
            .extend_pairs(&kept)
            .append_pair("token", token)
            .append_pair("identifier", identifier)
            .append_pair("callbackUrl", callback_url);
        link.into()
    }

    #[test]
    fn url_rules() {
        assert!(parse_http_url("u", "https://app.example.com/reset").is_ok());
        assert!(parse_http_url("u", "HTTP://app.example.com").is_ok());
        for bad in [
            "ftp://example.com",
            "javascript:alert(1)",
            "http:example.com",
            "//example.com/x",
            "/relative",
            "https://user:pw@example.com/",
            "https://user@example.com/",
            "https://exa\tmple.com/",
            "https://example.com/\r\n",
            "https://example.com/a b",
            "https://",
            // Read differently by WHATWG and other parsers (nile_reset_urls).
            "http://localhost:3000\\@evil.example.net/",
            "http:///localhost:3000/",
            "http://local%68ost:3000/",
            "http://0x7f.1:3000/",
            "http://2130706433:3000/",
        ] {
            assert!(
                matches!(parse_http_url("u", bad), Err(ArgError::Invalid(_))),
                "{bad} should be rejected"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(matches!(
            parse_http_url("u", &long),
            Err(ArgError::TooLong(_))
        ));
    }

    #[test]
    fn error_messages_name_the_argument_not_the_value() {
        let Err(ArgError::Invalid(message)) = parse_http_url("callback_url", "ftp://secret-host")
        else {
            panic!("expected an error")
        };
        assert!(message.contains("callback_url"));
        assert!(!message.contains("secret-host"));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of(&url("HTTPS://App.Example.COM:443/x?y")),
            "https://app.example.com"
        );
        assert_eq!(
            origin_of(&url("http://localhost:3000/")),
            "http://localhost:3000"
        );
        assert_eq!(
            parse_origin("https://example.com/").unwrap(),
            "https://example.com"
        );
        assert!(parse_origin("https://example.com/path").is_err());
        assert!(parse_origin("https://example.com?q=1").is_err());
    }

    #[test]
    fn link_in_nile_format() {
        let link = reset_link(
            &url("http://localhost:3000/reset-password"),
            "ab12",
            "jane+x@example.com",
            "http://localhost:3000/done?a=1&b=2",
        );
        assert_eq!(
            link,
            "http://localhost:3000/reset-password?token=ab12&identifier=jane%2Bx%40example.com\
             &callbackUrl=http%3A%2F%2Flocalhost%3A3000%2Fdone%3Fa%3D1%26b%3D2"
        );
    }

    #[test]
    fn link_keeps_existing_query_and_fragment_and_replaces_own_names() {
        let link = reset_link(
            &url("https://app.example.com/r?lang=fr&token=evil#top"),
            "t0k",
            "a b@example.com",
            "https://app.example.com/",
        );
        assert_eq!(
            link,
            "https://app.example.com/r?lang=fr&token=t0k&identifier=a+b%40example.com\
             &callbackUrl=https%3A%2F%2Fapp.example.com%2F#top"
        );
    }

    #[test]
    fn pattern_writes_what_the_url_serializer_writes() {
        let redirects = [
            "http://localhost:3000/reset-password",
            "https://app.example.com/r?lang=fr&token=evil#top",
            "https://app.example.com/r?identifier=x&callbackUrl=y&keep=%E2%9C%93",
            "https://app.example.com/r?",
            "https://app.example.com/r?a&b=&=c#",
            "https://app.example.com/r?q=a+b%20c#frag%20ment?x",
            "https://xn--bcher-kva.example/%C3%BC/?x=%26",
            "https://app.example.com:8443",
        ];
        let callbacks = [
            "http://localhost:3000/done?a=1&b=2",
            "https://app.example.com/",
            "https://app.example.com/p?x=%2B+y#h",
        ];
        let identifiers = [
            "jane+x@example.com",
            "a b@example.com",
            "jörg&co#1%@例え.jp",
            "\"quoted\"@example.com",
        ];
        for redirect in redirects {
            let redirect = url(redirect);
            for callback in callbacks {
                let pattern = LinkPattern::new(&redirect, callback);
                for identifier in identifiers {
                    for token in ["ab12", "0f".repeat(32).as_str()] {
                        assert_eq!(
                            pattern.link(token, identifier),
                            link_by_url(&redirect, token, identifier, callback),
                            "{redirect} {callback} {identifier}"
                        );
                    }
                }
            }
        }
    }
}
