//! The new-password policy and the bcrypt hash Nile's login checks.

use crate::error::ArgError;
use crate::settings::{MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH};

/// Minimum length (characters, `nile_reset.min_password_length`), at most
/// 72 bytes (bcrypt ignores the rest, so a longer password would be a lie),
/// no control characters (they cannot be typed and hide in copy-paste).
pub fn check_password(password: &str) -> Result<(), ArgError> {
    check_password_with(password, MIN_PASSWORD_LENGTH.get() as usize)
}

fn check_password_with(password: &str, min_chars: usize) -> Result<(), ArgError> {
    if password.chars().any(char::is_control) {
        return Err(ArgError::Invalid(
            "new_password must not contain control characters".into(),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ArgError::TooLong(format!(
            "new_password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if password.chars().count() < min_chars {
        return Err(ArgError::Invalid(format!(
            "new_password must be at least {min_chars} characters"
        )));
    }
    Ok(())
}

/// A `$2a$` bcrypt hash: the variant pgcrypto's `crypt()` and every bcrypt
/// library accept.
pub fn bcrypt_hash(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_password_with("correct horse", 8).is_ok());
        assert!(matches!(
            check_password_with("short", 8),
            Err(ArgError::Invalid(_))
        ));
        assert!(matches!(
            check_password_with("tab\there!", 8),
            Err(ArgError::Invalid(_))
        ));
        assert!(matches!(
            check_password_with(&"x".repeat(73), 8),
            Err(ArgError::TooLong(_))
        ));
        assert!(check_password_with(&"x".repeat(72), 8).is_ok());
        // 24 three-byte characters are 72 bytes; 25 are too many.
        assert!(check_password_with(&"€".repeat(24), 8).is_ok());
        assert!(matches!(
            check_password_with(&"€".repeat(25), 8),
            Err(ArgError::TooLong(_))
        ));
        // Length counts characters, not bytes.
        assert!(matches!(
            check_password_with("ééé", 4),
            Err(ArgError::Invalid(_))
        ));
    }

    #[test]
    fn hash_is_2a_and_verifies() {
        let hash = bcrypt_hash("correct horse", 4).unwrap();
        assert!(hash.starts_with("$2a$04$"), "{hash}");
        assert!(bcrypt::verify("correct horse", &hash).unwrap());
        assert!(!bcrypt::verify("wrong horse", &hash).unwrap());
    }
}
