//! The cookie secret: it signs the CSRF cookie and binds the reset cookie to its identifier.
//!
//! Signatures are HMAC-SHA256 keyed with the secret over a purpose label and then each field
//! (the database name first), every one prefixed with its length: a signature made for one
//! purpose, database or split of the fields is never valid for another. (Nile signs with
//! `sha256(parts ++ SECRET)`, where the CSRF signature of `T‖I` is the reset signature of
//! `(T, I)`.)

use std::path::Path;

use anyhow::{bail, Context};
use hmac::{Hmac, Mac};
use rand::TryRng;
use sha2::Sha256;

use crate::secrets::SecretSource;

/// Where the secret may come from (there is deliberately no flag carrying it).
pub const COOKIE_SECRET: SecretSource = SecretSource {
    what: "the cookie secret",
    env: "NILE_RESET_SECRET",
    file_flag: "--secret-file",
    file_env: "NILE_RESET_SECRET_FILE",
};

/// Shorter secrets can be brute-forced offline from a single signed cookie.
const MIN_SECRET_BYTES: usize = 32;

pub struct Secret(Vec<u8>);

impl Secret {
    /// Reads the secret from NILE_RESET_SECRET or from `file` (the rule of [`crate::secrets`]).
    /// Without either, production refuses to start and development makes up a random secret,
    /// which invalidates every cookie on restart.
    pub fn load(file: Option<&Path>, production: bool) -> anyhow::Result<Secret> {
        match COOKIE_SECRET.load(file)? {
            Some(loaded) => Secret::new(loaded.bytes),
            None if production => {
                bail!(
                    "--production needs a cookie secret: {}",
                    COOKIE_SECRET.how_to_set()
                )
            }
            None => {
                tracing::warn!(
                    "no cookie secret configured: using a random one; CSRF and reset cookies \
                     will not survive a restart ({})",
                    COOKIE_SECRET.how_to_set()
                );
                Secret::random()
            }
        }
    }

    /// A secret from its bytes; shorter than 32 bytes is refused (and never quoted).
    pub fn new(bytes: impl Into<Vec<u8>>) -> anyhow::Result<Secret> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            bail!("the cookie secret must be at least {MIN_SECRET_BYTES} bytes long");
        }
        Ok(Secret(bytes))
    }

    fn random() -> anyhow::Result<Secret> {
        Ok(Secret(hex::encode(random_bytes::<32>()?).into_bytes()))
    }

    /// `hex(HMAC-SHA256(secret, len(label) label len(field1) field1 ...))`, lengths as 8-byte
    /// big-endian integers.
    pub fn sign(&self, label: &str, fields: &[&str]) -> String {
        hex::encode(self.mac(label, fields).finalize().into_bytes())
    }

    /// Whether `signature` is `sign(label, fields)`, compared in constant time.
    pub fn verify(&self, label: &str, fields: &[&str], signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        self.mac(label, fields).verify_slice(&bytes).is_ok()
    }

    fn mac(&self, label: &str, fields: &[&str]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        for field in std::iter::once(label).chain(fields.iter().copied()) {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .context("the operating system's random number generator failed")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any length, for known-answer tests (the public constructor wants 32 bytes).
    fn secret(value: &str) -> Secret {
        Secret(value.as_bytes().to_vec())
    }

    #[test]
    fn signs_with_hmac_over_length_prefixed_fields() {
        // Expected value from: printf '\0\0\0\0\0\0\0\1L\0\0\0\0\0\0\0\5token' |
        // openssl dgst -sha256 -hmac secret
        assert_eq!(
            secret("secret").sign("L", &["token"]),
            "595f9400fee2682bbfc422735754cf21b3ca05baca37be6c4f9dea1c35b26c71"
        );
    }

    #[test]
    fn verifies_only_the_matching_signature() {
        let key = secret("secret");
        let signature = key.sign("reset", &["db", "token", "id"]);
        assert!(key.verify("reset", &["db", "token", "id"], &signature));
        assert!(!key.verify("reset", &["db", "token", "other"], &signature));
        assert!(!key.verify("csrf", &["db", "token", "id"], &signature));
        assert!(!key.verify("reset", &["db", "tokenid"], &signature));
        assert!(!key.verify("reset", &["db", "tok", "enid"], &signature));
        assert!(!key.verify("reset", &["db", "token", "id"], &signature[..10]));
        assert!(!key.verify("reset", &["db", "token", "id"], "not hex"));
        assert!(!secret("other").verify("reset", &["db", "token", "id"], &signature));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(Secret::new("x".repeat(31)).is_err());
        assert!(Secret::new("x".repeat(32)).is_ok());
    }
}
