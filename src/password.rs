//! The new-password policy and the hash formats `auth.reset_password`
//! writes into the application's password column.

use base64::Engine;
use sha2::Sha256;

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

/// How the application stores passwords; the spellings are those of
/// `nile_reset.user_directory.password_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordFormat {
    /// Modular crypt bcrypt, written as `$2a$`: the one prefix every reader
    /// accepts (bcrypt-ruby/Devise, Go, PHP, Python, and pgcrypto's
    /// `crypt()`, which rejects `$2b$`). For passwords under 255 bytes the
    /// `$2a$` and `$2b$` algorithms are identical.
    Bcrypt,
    /// Django's default hasher: `pbkdf2_sha256$<iterations>$<salt>$<base64>`.
    DjangoPbkdf2Sha256,
    /// PHC string `$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`.
    Argon2id,
    /// Nile's `auth.credentials` payload (a `$2a$` bcrypt hash inside JSON).
    Nile,
}

impl PasswordFormat {
    pub const ALL: [PasswordFormat; 4] = [
        PasswordFormat::Bcrypt,
        PasswordFormat::DjangoPbkdf2Sha256,
        PasswordFormat::Argon2id,
        PasswordFormat::Nile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PasswordFormat::Bcrypt => "bcrypt",
            PasswordFormat::DjangoPbkdf2Sha256 => "django_pbkdf2_sha256",
            PasswordFormat::Argon2id => "argon2id",
            PasswordFormat::Nile => "nile",
        }
    }

    pub fn parse(value: &str) -> Option<PasswordFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

/// The cost parameters, read from the settings at the time of the reset.
pub struct HashCost {
    pub bcrypt_cost: u32,
    pub pbkdf2_iterations: u32,
}

/// Hashes `password` in the app's format: the text written into its
/// password column (for `Nile`, the bcrypt hash that goes into the payload).
pub fn hash(format: PasswordFormat, password: &str, cost: &HashCost) -> Result<String, String> {
    match format {
        PasswordFormat::Bcrypt | PasswordFormat::Nile => bcrypt_hash(password, cost.bcrypt_cost),
        PasswordFormat::DjangoPbkdf2Sha256 => Ok(django_pbkdf2_sha256(
            password,
            &random_salt()?,
            cost.pbkdf2_iterations,
        )),
        PasswordFormat::Argon2id => argon2id(password),
    }
}

fn bcrypt_hash(password: &str, cost: u32) -> Result<String, String> {
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| format!("bcrypt failed: {e}"))
}

/// Django's salt: 22 characters from [a-zA-Z0-9] (about 131 bits), as its
/// `get_random_string` makes them.
fn random_salt() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut salt = String::with_capacity(22);
    let mut bytes = [0u8; 64];
    while salt.len() < 22 {
        crate::token::fill_random(&mut bytes)
            .map_err(|_| "the operating system random number generator failed".to_owned())?;
        // Rejection sampling keeps the characters uniform: 248 = 4 * 62.
        for b in bytes {
            if b < 248 && salt.len() < 22 {
                salt.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(salt)
}

fn django_pbkdf2_sha256(password: &str, salt: &str, iterations: u32) -> String {
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(derived);
    format!("pbkdf2_sha256${iterations}${salt}${encoded}")
}

fn argon2id(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    crate::token::fill_random(&mut salt)
        .map_err(|_| "the operating system random number generator failed".to_owned())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| format!("argon2 salt: {e}"))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("argon2 failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

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

    const CHEAP: HashCost = HashCost {
        bcrypt_cost: 4,
        pbkdf2_iterations: 1000,
    };

    #[test]
    fn formats_round_trip() {
        for format in PasswordFormat::ALL {
            assert_eq!(PasswordFormat::parse(format.as_str()), Some(format));
        }
        assert_eq!(PasswordFormat::parse("md5"), None);
    }

    #[test]
    fn bcrypt_and_nile_are_2a_and_verify() {
        let b = hash(PasswordFormat::Bcrypt, "correct horse", &CHEAP).unwrap();
        assert!(b.starts_with("$2a$04$"), "{b}");
        assert!(bcrypt::verify("correct horse", &b).unwrap());
        assert!(!bcrypt::verify("wrong horse", &b).unwrap());
        let n = hash(PasswordFormat::Nile, "correct horse", &CHEAP).unwrap();
        assert!(n.starts_with("$2a$04$"), "{n}");
        assert!(bcrypt::verify("correct horse", &n).unwrap());
    }

    /// The known answer is what Django's hasher computes, with the primitive
    /// it uses: `base64.b64encode(hashlib.pbkdf2_hmac('sha256',
    /// 'lètmein'.encode(), b'seasalt', 1000))`.
    #[test]
    fn django_pbkdf2_matches_the_known_answer() {
        let encoded = django_pbkdf2_sha256("lètmein", "seasalt", 1000);
        assert_eq!(
            encoded,
            "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A="
        );
        let fresh = hash(PasswordFormat::DjangoPbkdf2Sha256, "pw 12345", &CHEAP).unwrap();
        let parts: Vec<&str> = fresh.split('$').collect();
        assert_eq!(parts[..2], ["pbkdf2_sha256", "1000"]);
        assert_eq!(parts[2].len(), 22);
        assert!(parts[2].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(fresh, django_pbkdf2_sha256("pw 12345", parts[2], 1000));
    }

    #[test]
    fn argon2id_is_phc_and_verifies() {
        let encoded = hash(PasswordFormat::Argon2id, "correct horse", &CHEAP).unwrap();
        assert!(encoded.starts_with("$argon2id$v=19$"), "{encoded}");
        let parsed = PasswordHash::new(&encoded).unwrap();
        let verifier = argon2::Argon2::default();
        assert!(verifier.verify_password(b"correct horse", &parsed).is_ok());
        assert!(verifier.verify_password(b"wrong horse", &parsed).is_err());
    }
}
