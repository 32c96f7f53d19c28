//! Reset tokens: 32 bytes from the operating system's CSPRNG, shown to the
//! user as 64 lowercase hex characters and stored only as their SHA-256.

use rand::rngs::SysRng;
use rand::TryRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const TOKEN_BYTES: usize = 32;

/// A fresh secret token, hex-encoded. The OS CSPRNG only fails when the
/// kernel cannot provide entropy at all; there is no weaker fallback.
pub fn generate() -> Result<String, rand::rngs::SysError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    fill_random(&mut bytes)?;
    Ok(lower_hex(&bytes))
}

/// Fills `bytes` from the operating system's CSPRNG (also for salts).
pub fn fill_random(bytes: &mut [u8]) -> Result<(), rand::rngs::SysError> {
    SysRng.try_fill_bytes(bytes)
}

/// The hex SHA-256 of a token: the only form the database keeps.
pub fn digest(token: &str) -> String {
    lower_hex(&Sha256::digest(token.as_bytes()).into())
}

/// `hex::encode` for the 32 bytes of a token or digest, without its
/// character-at-a-time `String` (it is on every reset's path).
fn lower_hex(bytes: &[u8; TOKEN_BYTES]) -> String {
    let mut out = [0u8; 2 * TOKEN_BYTES];
    hex::encode_to_slice(bytes, &mut out).expect("the output is twice the input's length");
    std::str::from_utf8(&out)
        .expect("hex digits are ASCII")
        .to_owned()
}

/// Does `candidate` hash to `stored_digest`? The comparison of the digests
/// takes the same time wherever they differ.
pub fn matches(candidate: &str, stored_digest: &str) -> bool {
    digest(candidate)
        .as_bytes()
        .ct_eq(stored_digest.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_lowercase_hex_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        assert_ne!(a, b);
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn matches_only_the_right_token() {
        let token = generate().unwrap();
        let stored = digest(&token);
        assert!(matches(&token, &stored));
        assert!(!matches(&generate().unwrap(), &stored));
        assert!(!matches("", &stored));
    }
}
