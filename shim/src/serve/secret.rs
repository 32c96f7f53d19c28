//! The cookie secret: it signs the CSRF cookie and binds the reset cookie to its identifier,
//! exactly as Nile does (`hex(sha256(parts ++ SECRET))`, NextAuth v4's format).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use anyhow::{bail, Context};
use rand::TryRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Environment variable holding the secret itself (there is deliberately no flag for it).
pub const SECRET_ENV: &str = "NILE_RESET_SECRET";

/// Shorter secrets can be brute-forced offline from a single signed cookie.
const MIN_SECRET_BYTES: usize = 32;

pub struct Secret(Vec<u8>);

impl Secret {
    /// Reads the secret from NILE_RESET_SECRET or from `file` (not both). Without either, production
    /// refuses to start and development makes up a random secret, which invalidates every cookie
    /// on restart.
    pub fn load(file: Option<&Path>, production: bool) -> anyhow::Result<Secret> {
        let from_env = std::env::var_os(SECRET_ENV).filter(|value| !value.is_empty());
        let bytes = match (from_env, file) {
            (Some(_), Some(_)) => {
                bail!("the cookie secret is set twice: use {SECRET_ENV} or --secret-file, not both")
            }
            (Some(value), None) => OsString::into_vec(value),
            (None, Some(path)) => read_secret_file(path)?,
            (None, None) if production => {
                bail!("--production needs a cookie secret: set {SECRET_ENV} or --secret-file")
            }
            (None, None) => {
                tracing::warn!(
                    "no cookie secret configured: using a random one; CSRF and reset cookies \
                     will not survive a restart (set {SECRET_ENV} or --secret-file)"
                );
                return Secret::random();
            }
        };
        Secret::new(bytes)
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

    /// `hex(sha256(part1 ++ part2 ++ ... ++ SECRET))`.
    pub fn sign(&self, parts: &[&str]) -> String {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part.as_bytes());
        }
        hasher.update(&self.0);
        hex::encode(hasher.finalize())
    }

    /// Whether `signature` is `sign(parts)`, compared in constant time.
    pub fn verify(&self, parts: &[&str], signature: &str) -> bool {
        self.sign(parts)
            .as_bytes()
            .ct_eq(signature.as_bytes())
            .into()
    }
}

fn read_secret_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the cookie secret from {}", path.display()))?;
    // Editors and `echo` add a final newline that is not part of the secret.
    while bytes
        .last()
        .is_some_and(|byte| matches!(byte, b'\n' | b'\r'))
    {
        bytes.pop();
    }
    Ok(bytes)
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
    fn signs_like_nextauth() {
        // Expected values from `printf tokensecret | sha256sum` and `printf abs | sha256sum`.
        assert_eq!(
            secret("secret").sign(&["token"]),
            "d9db21448d73f8397d9401d925e90810faadaad67b0053599e61d9b9e3f7ad37"
        );
        assert_eq!(
            secret("s").sign(&["a", "b"]),
            "78da4a596a88bc5114f071ba590793bf3b37329d761230f33129983a747f414e"
        );
    }

    #[test]
    fn verifies_only_the_matching_signature() {
        let key = secret("secret");
        let signature = key.sign(&["token", "id"]);
        assert!(key.verify(&["token", "id"], &signature));
        assert!(!key.verify(&["token", "other"], &signature));
        assert!(!key.verify(&["token", "id"], &signature[..10]));
        assert!(!secret("other").verify(&["token", "id"], &signature));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(Secret::new("x".repeat(31)).is_err());
        assert!(Secret::new("x".repeat(32)).is_ok());
    }

    #[test]
    fn secret_files_lose_their_final_newline() {
        let path = std::env::temp_dir().join(format!("nile-reset-secret-{}", std::process::id()));
        std::fs::write(&path, b"0123456789abcdef0123456789abcdef\r\n").unwrap();
        let bytes = read_secret_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(bytes, b"0123456789abcdef0123456789abcdef");
    }
}
