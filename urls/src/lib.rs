//! URLs that every parser reads the same way: the one rule shared by the extension (which
//! refuses such URLs in `auth.generate_password_token`, `auth.is_trusted_url` and the origin
//! functions) and the HTTP shim (which answers 400 before it reaches the database).
//!
//! The extension parses callback and redirect URLs with the WHATWG rules (the `url` crate),
//! which quietly repair what other parsers (RFC 3986: proxies, mail clients, server-side
//! fetchers) read differently: `\` is a `/` to WHATWG and part of the user info or host to
//! others, `http:///host` gains a host, percent-encoded or full-width host bytes are decoded,
//! numeric hosts are rewritten. A URL whose authority is not already in the form WHATWG would
//! give it is refused, not normalized, so the origin the database checks is the origin every
//! reader of the link sees.

use url::Url;

/// Whether WHATWG reads `raw` as an http(s) URL that other parsers may read otherwise. What it
/// does not read as one at all is left to the database, which refuses it with its own message.
pub fn is_ambiguous(raw: &str) -> bool {
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => !reads_alike(raw, &url),
        _ => false,
    }
}

/// Whether `raw` is an absolute http(s) URL whose authority reads the same to every parser.
pub fn is_unambiguous(raw: &str) -> bool {
    Url::parse(raw).is_ok_and(|url| reads_alike(raw, &url))
}

/// [`is_unambiguous`] for a caller that has already parsed `raw` (WHATWG) into `url`.
pub fn reads_alike(raw: &str, url: &Url) -> bool {
    if raw
        .chars()
        .any(|c| c == '\\' || c.is_control() || c.is_whitespace() || !c.is_ascii())
    {
        return false;
    }
    let Some((scheme, rest)) = raw.split_once("://") else {
        return false;
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return false;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let Some(host) = url.host_str() else {
        return false;
    };
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    // The port as written may be the scheme's default, which WHATWG drops.
    let port = url.port_or_known_default().map(|port| port.to_string());
    let forms = [
        Some(host.to_owned()),
        port.map(|port| format!("{host}:{port}")),
    ];
    forms
        .iter()
        .flatten()
        .any(|form| form.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_pass() {
        for url in [
            "http://localhost:3000/signed-in",
            "https://App.Example.com/reset?step=2#top",
            "https://app.example.com:443/",
            "http://127.0.0.1:8080",
            "http://[::1]:3000/x",
        ] {
            assert!(is_unambiguous(url), "{url}");
        }
    }

    #[test]
    fn authorities_parsers_read_differently_are_refused() {
        for url in [
            "http://localhost:3000\\@evil.example/",
            "http://evil.example\\.localhost:3000/",
            "http:///localhost:3000/",
            "http:\\\\localhost:3000/",
            "http://local%68ost:3000/",
            "http://user@localhost:3000/",
            "http://localhost:3000@evil.example/",
            "http://ｌｏｃａｌｈｏｓｔ:3000/",
            "http://0x7f.1:3000/",
            "http://2130706433:3000/",
            "http://[0:0::1]:3000/",
            "http://localhost:3000\t/",
            "http://local\nhost:3000/",
            "javascript:alert(1)",
            "//localhost:3000/",
        ] {
            assert!(!is_unambiguous(url), "{url}");
        }
    }

    #[test]
    fn only_what_whatwg_accepts_as_http_counts_as_ambiguous() {
        assert!(is_ambiguous("http://localhost:3000\\@evil.example/"));
        assert!(is_ambiguous("HTTP:///localhost:3000/"));
        assert!(!is_ambiguous("http://localhost:3000/"));
        // Not URLs to WHATWG, or not http: the database refuses them in its own words.
        assert!(!is_ambiguous("not a url"));
        assert!(!is_ambiguous("javascript:alert(1)"));
    }
}
