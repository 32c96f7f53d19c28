//! API keys for `?json=true`: a caller holding one may receive reset links directly instead of
//! having them emailed. Nile lets anyone with a CSRF cookie do that, which hands out a reset
//! link for any account; we require `Authorization: Bearer <key>`, or the cookie
//! `nile-reset.api-key=<key>`: Nile's SDK cannot send an Authorization header, but forwards a
//! cookie its backend caller gives it. Browsers never hold that cookie (nothing sets it), so a
//! browser's request proxied by the SDK's route handlers still lacks a key.

use std::path::Path;

use anyhow::bail;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::cookies;
use crate::secrets::{Origin, SecretSource};

/// Where the keys may come from (there is deliberately no flag carrying them): the variable
/// holds them comma-separated, the file one per line.
pub const API_KEYS: SecretSource = SecretSource {
    what: "the API keys",
    env: "NILE_RESET_API_KEYS",
    file_flag: "--api-keys-file",
    file_env: "NILE_RESET_API_KEYS_FILE",
};

/// Keys short enough to guess are refused at startup.
const MIN_KEY_CHARS: usize = 16;

/// The cookie that may carry a key, for clients that cannot set Authorization.
pub const KEY_COOKIE: &str = "nile-reset.api-key";

pub struct ApiKeys {
    /// SHA-256 of each key: comparing fixed-size digests takes the same time whatever the
    /// presented key's length, and the keys themselves are not kept in memory.
    digests: Vec<[u8; 32]>,
}

impl ApiKeys {
    /// Reads keys from NILE_RESET_API_KEYS or from `file` (the rule of [`crate::secrets`]; a
    /// file may list several keys, e.g. while rotating them). No keys at all is valid:
    /// `?json=true` is then always refused.
    pub fn load(file: Option<&Path>) -> anyhow::Result<ApiKeys> {
        let Some(loaded) = API_KEYS.load(file)? else {
            return ApiKeys::new([]);
        };
        let origin = loaded.origin;
        let text = loaded.into_text()?;
        ApiKeys::new(parse(origin, &text))
    }

    /// Keys shorter than 16 characters, or with a character a cookie value cannot carry as is,
    /// are refused. No keys: `?json=true` is always refused.
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> anyhow::Result<ApiKeys> {
        let mut digests = Vec::new();
        for key in keys {
            if key.chars().count() < MIN_KEY_CHARS {
                bail!("API keys must be at least {MIN_KEY_CHARS} characters long");
            }
            if !key.bytes().all(is_cookie_octet) {
                bail!(
                    "API keys may only hold printable ASCII other than space, '\"', ',', ';' and '\\'"
                );
            }
            digests.push(Sha256::digest(key.as_bytes()).into());
        }
        Ok(ApiKeys { digests })
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether the request carries one of the keys, as `Authorization: Bearer <key>` or else
    /// in the key cookie. Every key is compared, in constant time, so timing tells nothing
    /// about which key nearly matched.
    pub fn authorize(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = bearer_token(headers).or_else(|| cookies::read(headers, KEY_COOKIE))
        else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut matched = Choice::from(0);
        for digest in &self.digests {
            matched |= digest.ct_eq(&presented);
        }
        matched.into()
    }
}

/// The keys a variable (comma-separated) or a file (one per line; blank lines and lines
/// starting with # skipped) lists.
fn parse(origin: Origin, text: &str) -> Vec<&str> {
    let entries: Vec<&str> = match origin {
        Origin::Environment => text.split(',').collect(),
        Origin::File => text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .collect(),
    };
    entries
        .into_iter()
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .collect()
}

/// RFC 6265's cookie-octet: a key made of these travels in a cookie unquoted and unencoded.
fn is_cookie_octet(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;
    use axum::http::HeaderValue;

    const KEY: &str = "k3y-0123456789abcdef";

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accepts_any_configured_bearer_key() {
        let keys = ApiKeys::new(["another-key-0123456789", KEY]).unwrap();
        assert!(keys.authorize(&with_authorization(&format!("Bearer {KEY}"))));
        assert!(keys.authorize(&with_authorization(&format!("bearer  {KEY}"))));
    }

    #[test]
    fn refuses_everything_else() {
        let keys = ApiKeys::new([KEY]).unwrap();
        assert!(!keys.authorize(&HeaderMap::new()));
        assert!(!keys.authorize(&with_authorization(KEY)));
        assert!(!keys.authorize(&with_authorization(&format!("Basic {KEY}"))));
        assert!(!keys.authorize(&with_authorization(&format!("Bearer {KEY}x"))));
        assert!(!keys.authorize(&with_authorization("Bearer ")));
        let none = ApiKeys::new(std::iter::empty()).unwrap();
        assert!(!none.authorize(&with_authorization(&format!("Bearer {KEY}"))));
    }

    #[test]
    fn the_variable_separates_keys_with_commas_the_file_with_lines() {
        let listed = |origin, text| parse(origin, text);
        assert_eq!(
            listed(Origin::Environment, " key-one, ,key-two "),
            ["key-one", "key-two"]
        );
        assert_eq!(
            listed(
                Origin::File,
                "# rotated monthly\n\nkey-one\r\n  # old\nkey-two\n"
            ),
            ["key-one", "key-two"]
        );
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(ApiKeys::new(["short"]).is_err());
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accepts_the_key_cookie() {
        let keys = ApiKeys::new([KEY]).unwrap();
        assert!(keys.authorize(&with_cookie(&format!("a=b; {KEY_COOKIE}={KEY}"))));
        assert!(!keys.authorize(&with_cookie(&format!("{KEY_COOKIE}={KEY}x"))));
        assert!(!keys.authorize(&with_cookie(&format!("other={KEY}"))));
        assert!(!keys.authorize(&with_cookie(&format!("{KEY_COOKIE}="))));
    }

    #[test]
    fn keys_must_be_cookie_safe() {
        for bad in [
            "0123456789abcdef;x",
            "0123456789abcdef x",
            "0123456789abcdef,x",
            "0123456789abcdef\"x",
            "0123456789abcdef\\x",
            "0123456789abcdefé",
        ] {
            assert!(ApiKeys::new([bad]).is_err(), "{bad:?} was accepted");
        }
        assert!(ApiKeys::new(["AZaz09-._~!#$%&'()*+/:<=>?@[]^`{|}"]).is_ok());
    }
}
