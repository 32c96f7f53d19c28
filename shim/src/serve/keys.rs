//! API keys for `?json=true`: a caller holding one may receive reset links directly instead of
//! having them emailed. Nile lets anyone with a CSRF cookie do that, which hands out a reset
//! link for any account; we require `Authorization: Bearer <key>`, or the cookie
//! `nile-reset.api-key=<key>`: Nile's SDK cannot send an Authorization header, but forwards a
//! cookie its backend caller gives it. Browsers never hold that cookie (nothing sets it), so a
//! browser's request proxied by the SDK's route handlers still lacks a key.
//!
//! Each key belongs to one served database and authorizes requests for that database only:
//! one shim may serve several tenants, and one tenant's key must not hand out links for
//! another's users.

use std::collections::HashMap;
use std::path::Path;

use anyhow::bail;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::cookies;
use crate::secrets::{Origin, SecretSource};

/// Where the keys may come from (there is deliberately no flag carrying them): the variable
/// holds its entries comma-separated, the file one per line; an entry is `DATABASE KEY`.
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
    /// SHA-256 of each key, by the database it authorizes: comparing fixed-size digests takes
    /// the same time whatever the presented key's length, and the keys themselves are not kept
    /// in memory.
    by_database: HashMap<String, Vec<[u8; 32]>>,
}

impl ApiKeys {
    /// Reads keys from NILE_RESET_API_KEYS or from `file` (the rule of [`crate::secrets`]) for
    /// the databases `served`. A database may have several keys (while rotating them). No keys
    /// at all is valid: `?json=true` is then always refused.
    pub fn load(file: Option<&Path>, served: &[&str]) -> anyhow::Result<ApiKeys> {
        let Some(loaded) = API_KEYS.load(file)? else {
            return ApiKeys::new([]);
        };
        let origin = loaded.origin;
        let text = loaded.into_text()?;
        ApiKeys::from_text(origin, file, &text, served)
    }

    /// `(database, key)` pairs. Keys shorter than 16 characters, or with a character a cookie
    /// value cannot carry as is, are refused. No keys: `?json=true` is always refused.
    pub fn new<'a>(keys: impl IntoIterator<Item = (&'a str, &'a str)>) -> anyhow::Result<ApiKeys> {
        let mut by_database: HashMap<String, Vec<[u8; 32]>> = HashMap::new();
        for (database, key) in keys {
            if let Err(problem) = check_key(key) {
                bail!("{problem}");
            }
            by_database
                .entry(database.to_owned())
                .or_default()
                .push(Sha256::digest(key.as_bytes()).into());
        }
        Ok(ApiKeys { by_database })
    }

    /// The keys `text` lists, each checked against the databases `served`; errors name the
    /// entry by its number, never by its content (which holds a key).
    fn from_text(
        origin: Origin,
        file: Option<&Path>,
        text: &str,
        served: &[&str],
    ) -> anyhow::Result<ApiKeys> {
        let place = |number: usize| match (origin, file) {
            (Origin::File, Some(path)) => format!("line {number} of {}", path.display()),
            _ => format!("entry {number} of {}", API_KEYS.env),
        };
        let mut keys = Vec::new();
        for entry in parse(origin, text) {
            let database = match entry.words[..] {
                // 0.2.0's form, from before keys had a database: unambiguous with one only.
                [_] if served.len() == 1 => served[0],
                [_] => bail!(
                    "{}: a key without a database is accepted only when one database is served \
                     ({} are): write `DATABASE KEY`",
                    place(entry.number),
                    served.len()
                ),
                [database, _] if served.contains(&database) => database,
                // Quoting the first word would print the key of a line written `KEY DATABASE`.
                [_, second] if served.contains(&second) => bail!(
                    "{}: the database comes first: write `DATABASE KEY`",
                    place(entry.number)
                ),
                [database, _] => bail!(
                    "{} names the database {database:?}, which is not served",
                    place(entry.number)
                ),
                _ => bail!(
                    "{}: expected `DATABASE KEY`, found {} words",
                    place(entry.number),
                    entry.words.len()
                ),
            };
            let key = entry.words[entry.words.len() - 1];
            if let Err(problem) = check_key(key) {
                bail!("{}: {problem}", place(entry.number));
            }
            keys.push((database, key));
        }
        ApiKeys::new(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.by_database.is_empty()
    }

    /// Whether the request carries one of `database`'s keys, as `Authorization: Bearer <key>`
    /// or else in the key cookie. Every key of the database is compared, in constant time, so
    /// timing tells nothing about which key nearly matched.
    pub fn authorize(&self, database: &str, headers: &HeaderMap) -> bool {
        let Some(digests) = self.by_database.get(database) else {
            return false;
        };
        let Some(presented) = bearer_token(headers).or_else(|| cookies::read(headers, KEY_COOKIE))
        else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut matched = Choice::from(0);
        for digest in digests {
            matched |= digest.ct_eq(&presented);
        }
        matched.into()
    }
}

/// One entry of a variable or a file: its number (1-based, counting every line or
/// comma-separated piece, so that it points at the right one) and its whitespace-separated
/// words.
struct Entry<'a> {
    number: usize,
    words: Vec<&'a str>,
}

/// The entries a variable (comma-separated) or a file (one per line; lines starting with #
/// skipped) lists; empty ones skipped.
fn parse(origin: Origin, text: &str) -> Vec<Entry<'_>> {
    let pieces: Vec<&str> = match origin {
        Origin::Environment => text.split(',').collect(),
        Origin::File => text.lines().collect(),
    };
    pieces
        .into_iter()
        .enumerate()
        .filter(|(_, piece)| origin == Origin::Environment || !piece.trim_start().starts_with('#'))
        .map(|(at, piece)| Entry {
            number: at + 1,
            words: piece.split_whitespace().collect(),
        })
        .filter(|entry| !entry.words.is_empty())
        .collect()
}

/// Why `key` cannot be an API key, in words that do not quote it.
fn check_key(key: &str) -> Result<(), String> {
    if key.chars().count() < MIN_KEY_CHARS {
        return Err(format!(
            "API keys must be at least {MIN_KEY_CHARS} characters long"
        ));
    }
    if !key.bytes().all(is_cookie_octet) {
        return Err(
            "API keys may only hold printable ASCII other than space, '\"', ',', ';' and '\\'"
                .to_owned(),
        );
    }
    Ok(())
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
    const OTHER_KEY: &str = "another-key-0123456789";

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn bearer(key: &str) -> HeaderMap {
        with_authorization(&format!("Bearer {key}"))
    }

    fn from_file(text: &str, served: &[&str]) -> anyhow::Result<ApiKeys> {
        ApiKeys::from_text(Origin::File, Some(Path::new("/etc/keys")), text, served)
    }

    /// The error of `result`, checked not to quote any key of the tests.
    fn error_of(result: anyhow::Result<ApiKeys>) -> String {
        let error = format!("{:#}", result.err().expect("an error"));
        for key in [KEY, OTHER_KEY] {
            assert!(!error.contains(key), "{error:?} quotes a key");
        }
        error
    }

    #[test]
    fn accepts_any_configured_bearer_key_of_the_database() {
        let keys = ApiKeys::new([("app", OTHER_KEY), ("app", KEY)]).unwrap();
        assert!(keys.authorize("app", &bearer(KEY)));
        assert!(keys.authorize("app", &bearer(OTHER_KEY)));
        assert!(keys.authorize("app", &with_authorization(&format!("bearer  {KEY}"))));
    }

    #[test]
    fn a_key_authorizes_its_database_only() {
        let keys = ApiKeys::new([("a", KEY), ("b", OTHER_KEY)]).unwrap();
        assert!(keys.authorize("a", &bearer(KEY)));
        assert!(!keys.authorize("b", &bearer(KEY)));
        assert!(keys.authorize("b", &bearer(OTHER_KEY)));
        assert!(!keys.authorize("a", &bearer(OTHER_KEY)));
        assert!(!keys.authorize("c", &bearer(KEY)));
    }

    #[test]
    fn refuses_everything_else() {
        let keys = ApiKeys::new([("app", KEY)]).unwrap();
        assert!(!keys.authorize("app", &HeaderMap::new()));
        assert!(!keys.authorize("app", &with_authorization(KEY)));
        assert!(!keys.authorize("app", &with_authorization(&format!("Basic {KEY}"))));
        assert!(!keys.authorize("app", &bearer(&format!("{KEY}x"))));
        assert!(!keys.authorize("app", &with_authorization("Bearer ")));
        let none = ApiKeys::new([]).unwrap();
        assert!(none.is_empty());
        assert!(!none.authorize("app", &bearer(KEY)));
    }

    #[test]
    fn the_file_lists_database_and_key_per_line() {
        let text =
            format!("# rotated monthly\n\na {KEY}\r\n  # old\nb\t {OTHER_KEY}\na   {OTHER_KEY}\n");
        let keys = from_file(&text, &["a", "b"]).unwrap();
        assert!(keys.authorize("a", &bearer(KEY)));
        assert!(keys.authorize("a", &bearer(OTHER_KEY)));
        assert!(keys.authorize("b", &bearer(OTHER_KEY)));
        assert!(!keys.authorize("b", &bearer(KEY)));
    }

    #[test]
    fn the_variable_separates_entries_with_commas() {
        let text = format!(" a {KEY}, ,b {OTHER_KEY} ");
        let keys = ApiKeys::from_text(Origin::Environment, None, &text, &["a", "b"]).unwrap();
        assert!(keys.authorize("a", &bearer(KEY)));
        assert!(!keys.authorize("a", &bearer(OTHER_KEY)));
        assert!(keys.authorize("b", &bearer(OTHER_KEY)));
        // No comments in the variable: `#` may begin a key.
        let keys =
            ApiKeys::from_text(Origin::Environment, None, "#0123456789abcdef", &["a"]).unwrap();
        assert!(keys.authorize("a", &bearer("#0123456789abcdef")));
    }

    #[test]
    fn a_bare_key_means_the_one_database_served() {
        let keys = from_file(&format!("{KEY}\n"), &["app"]).unwrap();
        assert!(keys.authorize("app", &bearer(KEY)));
        let keys = ApiKeys::from_text(Origin::Environment, None, KEY, &["app"]).unwrap();
        assert!(keys.authorize("app", &bearer(KEY)));
    }

    #[test]
    fn a_bare_key_with_several_databases_is_refused_naming_its_line() {
        let error = error_of(from_file(
            &format!("# new\na {KEY}\n{OTHER_KEY}\n"),
            &["a", "b"],
        ));
        assert!(error.contains("line 3 of /etc/keys"), "{error}");
        assert!(error.contains("one database is served (2 are)"), "{error}");
        let text = format!("a {KEY},{OTHER_KEY}");
        let error = error_of(ApiKeys::from_text(
            Origin::Environment,
            None,
            &text,
            &["a", "b"],
        ));
        assert!(error.contains("entry 2 of NILE_RESET_API_KEYS"), "{error}");
    }

    #[test]
    fn a_database_not_served_is_refused_naming_it_and_its_line() {
        let error = error_of(from_file(&format!("a {KEY}\nc {OTHER_KEY}\n"), &["a", "b"]));
        assert!(
            error.contains("line 2 of /etc/keys names the database \"c\", which is not served"),
            "{error}"
        );
    }

    #[test]
    fn other_shapes_are_refused_without_quoting_them() {
        // Key first: the first word, which would be quoted as a database, is the key.
        let error = error_of(from_file(&format!("{KEY} a\n"), &["a", "b"]));
        assert!(
            error.contains("line 1 of /etc/keys: the database comes first"),
            "{error}"
        );
        let error = error_of(from_file(&format!("a {KEY} {OTHER_KEY}\n"), &["a"]));
        assert!(
            error.contains("line 1 of /etc/keys: expected `DATABASE KEY`"),
            "{error}"
        );
    }

    #[test]
    fn short_keys_are_refused_naming_their_line() {
        assert!(ApiKeys::new([("app", "short")]).is_err());
        let error = error_of(from_file(&format!("a {KEY}\nb short-key\n"), &["a", "b"]));
        assert!(
            error.contains("line 2 of /etc/keys: API keys must be at least"),
            "{error}"
        );
        assert!(!error.contains("short-key"), "{error}");
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accepts_the_key_cookie_for_its_database() {
        let keys = ApiKeys::new([("app", KEY)]).unwrap();
        assert!(keys.authorize("app", &with_cookie(&format!("a=b; {KEY_COOKIE}={KEY}"))));
        assert!(!keys.authorize("other", &with_cookie(&format!("{KEY_COOKIE}={KEY}"))));
        assert!(!keys.authorize("app", &with_cookie(&format!("{KEY_COOKIE}={KEY}x"))));
        assert!(!keys.authorize("app", &with_cookie(&format!("other={KEY}"))));
        assert!(!keys.authorize("app", &with_cookie(&format!("{KEY_COOKIE}="))));
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
            assert!(
                ApiKeys::new([("app", bad)]).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(ApiKeys::new([("app", "AZaz09-._~!#$%&'()*+/:<=>?@[]^`{|}")]).is_ok());
    }
}
