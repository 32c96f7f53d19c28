//! The new-password policy and the hash formats `auth.reset_password`
//! writes into the application's password column.
//!
//! A reset replaces a hash the application wrote itself, so the new hash
//! keeps that hash's scheme (its bcrypt prefix, its cost parameters) and is
//! never weaker than it: the settings are a floor, not a replacement for
//! what the application chose.

use base64::Engine;
use sha2::Sha256;

use crate::error::ArgError;
use crate::settings::{MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH};

/// Longest password, in bytes, of the formats that are not bcrypt: the 4096
/// of Django's former `MAXIMUM_PASSWORD_LENGTH`. PBKDF2 and Argon2 read
/// every byte; a bound still keeps one call's work small.
pub const MAX_LONG_PASSWORD_BYTES: usize = 4096;

/// The largest cost parameters the settings accept, and so the largest a
/// reset keeps from a stored hash. Hashing checks no interrupt and cannot
/// be cancelled; a stored hash beyond what a DBA may configure is damaged or
/// planted (no application logs in at such a cost), so it counts as
/// unreadable and gets the settings, rather than pinning a backend or
/// allocating gigabytes on every reset.
pub const BCRYPT_MAX_COST: u32 = 31;
pub const PBKDF2_MAX_ITERATIONS: u32 = 100_000_000;
/// 4 GiB, in KiB.
pub const ARGON2_MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
pub const ARGON2_MAX_ITERATIONS: u32 = 100;
pub const ARGON2_MAX_PARALLELISM: u32 = 255;

/// The new-password policy with the byte limit of `format`
/// (`max_password_bytes`): a minimum length (characters,
/// `nile_reset.min_password_length`) and no control characters (they
/// cannot be typed and hide in copy-paste).
pub fn check_password_for(format: PasswordFormat, password: &str) -> Result<(), ArgError> {
    check_password_with(
        password,
        MIN_PASSWORD_LENGTH.get() as usize,
        max_password_bytes(format),
    )
}

/// 72 bytes for the bcrypt formats: bcrypt ignores every byte after the
/// 72nd, so accepting more would promise a password the hash does not
/// check. 4096 for the others, which hash every byte.
pub fn max_password_bytes(format: PasswordFormat) -> usize {
    match format {
        PasswordFormat::Bcrypt | PasswordFormat::Nile => MAX_PASSWORD_BYTES,
        PasswordFormat::DjangoPbkdf2Sha256
        | PasswordFormat::Argon2id
        | PasswordFormat::DjangoArgon2 => MAX_LONG_PASSWORD_BYTES,
    }
}

fn check_password_with(password: &str, min_chars: usize, max_bytes: usize) -> Result<(), ArgError> {
    if password.chars().any(char::is_control) {
        return Err(ArgError::Invalid(
            "new_password must not contain control characters".into(),
        ));
    }
    if password.len() > max_bytes {
        return Err(ArgError::TooLong(format!(
            "new_password must be at most {max_bytes} bytes"
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
    /// Modular crypt bcrypt. A reset keeps the user's `$2a$`, `$2b$` or
    /// `$2y$`: each framework reads its own (PHP's `password_get_info`, and
    /// so Laravel, knows only `$2y$`). Without one it writes `$2a$`, the
    /// prefix every reader accepts (bcrypt-ruby/Devise, Go, PHP, Python, and
    /// pgcrypto's `crypt()`, which rejects `$2b$`). For passwords under 255
    /// bytes the three are the same algorithm.
    Bcrypt,
    /// Django's default hasher: `pbkdf2_sha256$<iterations>$<salt>$<base64>`.
    DjangoPbkdf2Sha256,
    /// PHC string `$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`.
    Argon2id,
    /// Nile's `auth.credentials` payload (a `$2a$` bcrypt hash inside JSON).
    Nile,
    /// Django's `Argon2PasswordHasher`: `argon2` followed by argon2-cffi's
    /// PHC string, `argon2$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`.
    DjangoArgon2,
}

impl PasswordFormat {
    pub const ALL: [PasswordFormat; 5] = [
        PasswordFormat::Bcrypt,
        PasswordFormat::DjangoPbkdf2Sha256,
        PasswordFormat::Argon2id,
        PasswordFormat::Nile,
        PasswordFormat::DjangoArgon2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PasswordFormat::Bcrypt => "bcrypt",
            PasswordFormat::DjangoPbkdf2Sha256 => "django_pbkdf2_sha256",
            PasswordFormat::Argon2id => "argon2id",
            PasswordFormat::Nile => "nile",
            PasswordFormat::DjangoArgon2 => "django_argon2",
        }
    }

    pub fn parse(value: &str) -> Option<PasswordFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

/// Argon2's cost parameters, as the PHC string spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// `m`, in KiB.
    pub memory_kib: u32,
    /// `t`, passes over the memory.
    pub iterations: u32,
    /// `p`, lanes.
    pub parallelism: u32,
}

impl Argon2Cost {
    /// Each parameter at least `floor`'s, and the memory at least the
    /// 8 KiB per lane Argon2 requires, so any floor makes a valid hash.
    fn at_least(self, floor: Argon2Cost) -> Argon2Cost {
        let parallelism = self.parallelism.max(floor.parallelism).max(1);
        Argon2Cost {
            memory_kib: self.memory_kib.max(floor.memory_kib).max(8 * parallelism),
            iterations: self.iterations.max(floor.iterations).max(1),
            parallelism,
        }
    }
}

/// The weakest hash a reset may write: the settings at the time of the
/// reset. A user's current hash raises it, never lowers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashFloor {
    pub bcrypt_cost: u32,
    pub pbkdf2_iterations: u32,
    pub argon2: Argon2Cost,
}

/// Hashes `password` to replace the user's `current` hash (the text in the
/// app's password column; for `Nile`, the credential payload or the bcrypt
/// hash inside it): the same scheme as `current` (its bcrypt prefix), with
/// each cost parameter the larger of `current`'s and `floor`'s. A `current`
/// the format cannot read (NULL, empty, Django's unusable `!...`, another
/// algorithm, malformed or beyond the `*_MAX_*` bounds) gets `floor`.
pub fn hash_replacing(
    format: PasswordFormat,
    password: &str,
    current: Option<&str>,
    floor: &HashFloor,
) -> Result<String, String> {
    match target(format, current.unwrap_or(""), floor) {
        Target::Bcrypt { prefix, cost } => bcrypt_hash(password, cost, prefix),
        Target::Pbkdf2Sha256 { iterations } => {
            Ok(django_pbkdf2_sha256(password, &random_salt()?, iterations))
        }
        Target::Argon2id(cost) if format == PasswordFormat::DjangoArgon2 => {
            // Django salts with the ASCII of its 22-character salt string;
            // doing the same keeps its `decode()` round trip exact.
            let phc = argon2id_phc(password, random_salt()?.as_bytes(), cost)?;
            Ok(format!("argon2{phc}"))
        }
        Target::Argon2id(cost) => {
            // argon2-cffi's salt: 16 random bytes.
            let mut salt = [0u8; 16];
            crate::token::fill_random(&mut salt)
                .map_err(|_| "the operating system random number generator failed".to_owned())?;
            argon2id_phc(password, &salt, cost)
        }
    }
}

/// The cost of a modular crypt bcrypt hash (`$2a$12$...` is 12), e.g. of
/// what `hash_replacing` returned, for Nile's `crypt-bf/<cost>`.
pub fn bcrypt_cost_of(hash: &str) -> Option<u32> {
    read_bcrypt(hash).map(|(_, cost)| cost)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BcryptPrefix {
    TwoA,
    TwoB,
    TwoY,
}

/// What a reset writes: the scheme and its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Bcrypt { prefix: BcryptPrefix, cost: u32 },
    Pbkdf2Sha256 { iterations: u32 },
    Argon2id(Argon2Cost),
}

fn target(format: PasswordFormat, current: &str, floor: &HashFloor) -> Target {
    match format {
        PasswordFormat::Bcrypt => {
            let (prefix, cost) = read_bcrypt(current).unwrap_or((BcryptPrefix::TwoA, 0));
            Target::Bcrypt {
                prefix,
                cost: cost.max(floor.bcrypt_cost),
            }
        }
        // Nile reads its payload with pgcrypto's crypt(), which knows only
        // `$2a$`, whatever prefix the stored hash has.
        PasswordFormat::Nile => Target::Bcrypt {
            prefix: BcryptPrefix::TwoA,
            cost: read_nile(current).unwrap_or(0).max(floor.bcrypt_cost),
        },
        PasswordFormat::DjangoPbkdf2Sha256 => Target::Pbkdf2Sha256 {
            iterations: read_django_pbkdf2(current)
                .unwrap_or(0)
                .max(floor.pbkdf2_iterations),
        },
        PasswordFormat::Argon2id => Target::Argon2id(
            read_argon2_phc(current)
                .unwrap_or(floor.argon2)
                .at_least(floor.argon2),
        ),
        PasswordFormat::DjangoArgon2 => Target::Argon2id(
            current
                .strip_prefix("argon2")
                .and_then(read_argon2_phc)
                .unwrap_or(floor.argon2)
                .at_least(floor.argon2),
        ),
    }
}

/// A decimal number as the formats write it: ASCII digits only, fitting
/// in a u32 (no sign, no spaces, no overflow).
fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `$2a$`, `$2b$` or `$2y$`, a cost of 4 to 31, and 53 characters of
/// bcrypt's base64 (salt and hash).
fn read_bcrypt(hash: &str) -> Option<(BcryptPrefix, u32)> {
    let bytes = hash.as_bytes();
    if bytes.len() != 60 || !hash.starts_with("$2") || bytes[3] != b'$' || bytes[6] != b'$' {
        return None;
    }
    let prefix = match bytes[2] {
        b'a' => BcryptPrefix::TwoA,
        b'b' => BcryptPrefix::TwoB,
        b'y' => BcryptPrefix::TwoY,
        _ => return None,
    };
    let cost = decimal(&hash[4..6])?;
    let salt_and_hash = &bytes[7..];
    let bcrypt_base64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/';
    ((4..=BCRYPT_MAX_COST).contains(&cost) && salt_and_hash.iter().all(bcrypt_base64))
        .then_some((prefix, cost))
}

/// Nile's credential payload (`{"hash": "$2a$...", ...}`) or the bare hash.
fn read_nile(current: &str) -> Option<u32> {
    if current.trim_start().starts_with('{') {
        let payload: serde_json::Value = serde_json::from_str(current).ok()?;
        bcrypt_cost_of(payload.get("hash")?.as_str()?)
    } else {
        bcrypt_cost_of(current)
    }
}

/// `pbkdf2_sha256$<iterations>$<salt>$<hash>`, the iterations at most
/// `PBKDF2_MAX_ITERATIONS`.
fn read_django_pbkdf2(encoded: &str) -> Option<u32> {
    let parts: Vec<&str> = encoded.split('$').collect();
    let [algorithm, iterations, salt, hash] = parts[..] else {
        return None;
    };
    let iterations = decimal(iterations)?;
    (algorithm == "pbkdf2_sha256"
        && !salt.is_empty()
        && !hash.is_empty()
        && iterations <= PBKDF2_MAX_ITERATIONS)
        .then_some(iterations)
}

/// A PHC Argon2 string: `$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`.
/// argon2i and argon2d count too (Django wrote argon2i before 3.2): their
/// parameters measure the same cost. The version may be absent (Argon2
/// 1.0 strings omit it); each parameter must be within the `ARGON2_MAX_*`
/// bounds.
fn read_argon2_phc(phc: &str) -> Option<Argon2Cost> {
    let parts: Vec<&str> = phc.split('$').collect();
    let (algorithm, params, salt, hash) = match parts[..] {
        ["", algorithm, version, params, salt, hash] => {
            if version != "v=19" && version != "v=16" {
                return None;
            }
            (algorithm, params, salt, hash)
        }
        ["", algorithm, params, salt, hash] => (algorithm, params, salt, hash),
        _ => return None,
    };
    let phc_base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    if !matches!(algorithm, "argon2id" | "argon2i" | "argon2d")
        || salt.is_empty()
        || hash.is_empty()
        || !salt.chars().all(phc_base64)
        || !hash.chars().all(phc_base64)
    {
        return None;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in params.split(',') {
        let (key, value) = pair.split_once('=')?;
        let slot = match key {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            _ => return None,
        };
        if slot.replace(decimal(value)?).is_some() {
            return None;
        }
    }
    let cost = Argon2Cost {
        memory_kib: m?,
        iterations: t?,
        parallelism: p?,
    };
    (cost.memory_kib <= ARGON2_MAX_MEMORY_KIB
        && cost.iterations <= ARGON2_MAX_ITERATIONS
        && cost.parallelism <= ARGON2_MAX_PARALLELISM)
        .then_some(cost)
}

fn bcrypt_hash(password: &str, cost: u32, prefix: BcryptPrefix) -> Result<String, String> {
    let version = match prefix {
        BcryptPrefix::TwoA => bcrypt::Version::TwoA,
        BcryptPrefix::TwoB => bcrypt::Version::TwoB,
        BcryptPrefix::TwoY => bcrypt::Version::TwoY,
    };
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(version))
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

/// Argon2id version 19 with a 32-byte hash, as the PHC string argon2-cffi
/// writes (salt and hash in unpadded standard base64).
fn argon2id_phc(password: &str, salt: &[u8], cost: Argon2Cost) -> Result<String, String> {
    let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.parallelism, Some(32))
        .map_err(|e| format!("argon2 parameters: {e}"))?;
    // The memory is reserved here, fallibly: the library's own allocation
    // aborts the server process when it fails.
    let mut blocks: Vec<argon2::Block> = Vec::new();
    blocks
        .try_reserve_exact(params.block_count())
        .map_err(|_| format!("argon2 could not allocate {} KiB", cost.memory_kib))?;
    blocks.resize(params.block_count(), argon2::Block::new());
    let mut out = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks)
        .map_err(|e| format!("argon2 failed: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        b64.encode(salt),
        b64.encode(out)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    #[test]
    fn policy() {
        let bcrypt_limit = MAX_PASSWORD_BYTES;
        assert!(check_password_with("correct horse", 8, bcrypt_limit).is_ok());
        assert!(matches!(
            check_password_with("short", 8, bcrypt_limit),
            Err(ArgError::Invalid(_))
        ));
        assert!(matches!(
            check_password_with("tab\there!", 8, bcrypt_limit),
            Err(ArgError::Invalid(_))
        ));
        assert!(matches!(
            check_password_with(&"x".repeat(73), 8, bcrypt_limit),
            Err(ArgError::TooLong(_))
        ));
        assert!(check_password_with(&"x".repeat(72), 8, bcrypt_limit).is_ok());
        // 24 three-byte characters are 72 bytes; 25 are too many.
        assert!(check_password_with(&"€".repeat(24), 8, bcrypt_limit).is_ok());
        assert!(matches!(
            check_password_with(&"€".repeat(25), 8, bcrypt_limit),
            Err(ArgError::TooLong(_))
        ));
        // Length counts characters, not bytes.
        assert!(matches!(
            check_password_with("ééé", 4, bcrypt_limit),
            Err(ArgError::Invalid(_))
        ));
    }

    #[test]
    fn byte_limit_follows_the_format() {
        assert_eq!(max_password_bytes(PasswordFormat::Bcrypt), 72);
        assert_eq!(max_password_bytes(PasswordFormat::Nile), 72);
        for format in [
            PasswordFormat::DjangoPbkdf2Sha256,
            PasswordFormat::Argon2id,
            PasswordFormat::DjangoArgon2,
        ] {
            let limit = max_password_bytes(format);
            assert_eq!(limit, 4096, "{format:?}");
            assert!(check_password_with(&"x".repeat(73), 8, limit).is_ok());
            assert!(check_password_with(&"x".repeat(4096), 8, limit).is_ok());
            assert!(matches!(
                check_password_with(&"x".repeat(4097), 8, limit),
                Err(ArgError::TooLong(m)) if m.contains("4096")
            ));
            // Control characters are refused whatever the limit.
            assert!(matches!(
                check_password_with("long\nenough", 8, limit),
                Err(ArgError::Invalid(_))
            ));
        }
    }

    /// Cheap costs: the hashing tests check encodings, not strength.
    const CHEAP_ARGON2: Argon2Cost = Argon2Cost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    const FLOOR: HashFloor = HashFloor {
        bcrypt_cost: 4,
        pbkdf2_iterations: 1000,
        argon2: CHEAP_ARGON2,
    };
    /// The settings' defaults, for tests that only plan the hash.
    const DEFAULTS: HashFloor = HashFloor {
        bcrypt_cost: 10,
        pbkdf2_iterations: 1_000_000,
        argon2: Argon2Cost {
            memory_kib: 65536,
            iterations: 3,
            parallelism: 4,
        },
    };
    const SALT_AND_HASH: &str = "EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie";

    fn bcrypt_with(prefix: &str, cost: &str) -> String {
        format!("${prefix}${cost}${SALT_AND_HASH}")
    }

    fn argon2_cost(memory_kib: u32, iterations: u32, parallelism: u32) -> Argon2Cost {
        Argon2Cost {
            memory_kib,
            iterations,
            parallelism,
        }
    }

    /// The m, t, p of a PHC string this module wrote.
    fn phc_cost(phc: &str) -> Argon2Cost {
        read_argon2_phc(phc).unwrap_or_else(|| panic!("unreadable: {phc}"))
    }

    #[test]
    fn formats_round_trip() {
        for format in PasswordFormat::ALL {
            assert_eq!(PasswordFormat::parse(format.as_str()), Some(format));
        }
        assert_eq!(
            PasswordFormat::parse("django_argon2"),
            Some(PasswordFormat::DjangoArgon2)
        );
        assert_eq!(PasswordFormat::parse("md5"), None);
        assert_eq!(PasswordFormat::parse("argon2"), None);
    }

    #[test]
    fn bcrypt_and_nile_are_2a_and_verify() {
        let b = hash_replacing(PasswordFormat::Bcrypt, "correct horse", None, &FLOOR).unwrap();
        assert!(b.starts_with("$2a$04$"), "{b}");
        assert!(bcrypt::verify("correct horse", &b).unwrap());
        assert!(!bcrypt::verify("wrong horse", &b).unwrap());
        let n = hash_replacing(PasswordFormat::Nile, "correct horse", None, &FLOOR).unwrap();
        assert!(n.starts_with("$2a$04$"), "{n}");
        assert!(bcrypt::verify("correct horse", &n).unwrap());
    }

    #[test]
    fn bcrypt_keeps_the_prefix() {
        for prefix in ["2a", "2b", "2y"] {
            let current = bcrypt_with(prefix, "05");
            let new = hash_replacing(
                PasswordFormat::Bcrypt,
                "correct horse",
                Some(&current),
                &FLOOR,
            )
            .unwrap();
            assert!(new.starts_with(&format!("${prefix}$05$")), "{new}");
            assert!(bcrypt::verify("correct horse", &new).unwrap(), "{new}");
            assert!(!bcrypt::verify("wrong horse", &new).unwrap(), "{new}");
            // The same algorithm under every prefix: the hash verifies
            // with the prefix translated to `$2a$`.
            let as_2a = format!("$2a${}", &new[4..]);
            assert!(bcrypt::verify("correct horse", &as_2a).unwrap(), "{as_2a}");
        }
    }

    #[test]
    fn bcrypt_cost_never_drops() {
        let plan = |current: &str| target(PasswordFormat::Bcrypt, current, &DEFAULTS);
        assert_eq!(
            plan(&bcrypt_with("2y", "12")),
            Target::Bcrypt {
                prefix: BcryptPrefix::TwoY,
                cost: 12
            }
        );
        assert_eq!(
            plan(&bcrypt_with("2a", "08")),
            Target::Bcrypt {
                prefix: BcryptPrefix::TwoA,
                cost: 10
            }
        );
        assert_eq!(
            plan(&bcrypt_with("2b", "31")),
            Target::Bcrypt {
                prefix: BcryptPrefix::TwoB,
                cost: 31
            }
        );
        // Hashed, not only planned: cost 6 over a floor of 4 stays 6, cost
        // 4 under a floor of 5 goes up to 5.
        let kept = hash_replacing(
            PasswordFormat::Bcrypt,
            "pw",
            Some(&bcrypt_with("2y", "06")),
            &FLOOR,
        )
        .unwrap();
        assert!(kept.starts_with("$2y$06$"), "{kept}");
        let raised = hash_replacing(
            PasswordFormat::Bcrypt,
            "pw",
            Some(&bcrypt_with("2b", "04")),
            &HashFloor {
                bcrypt_cost: 5,
                ..FLOOR
            },
        )
        .unwrap();
        assert!(raised.starts_with("$2b$05$"), "{raised}");
        assert_eq!(bcrypt_cost_of(&raised), Some(5));
    }

    #[test]
    fn unreadable_bcrypt_gets_the_defaults() {
        let defaults = Target::Bcrypt {
            prefix: BcryptPrefix::TwoA,
            cost: 10,
        };
        for current in [
            String::new(),
            "!abc".to_owned(),
            "md5$salt$hash".to_owned(),
            "garbage".to_owned(),
            bcrypt_with("2x", "12"),
            bcrypt_with("2a", "32"),
            bcrypt_with("2a", "99"),
            bcrypt_with("2a", "03"),
            bcrypt_with("2a", "1a"),
            bcrypt_with("2a", "+9"),
            format!("$2a$12${}", &SALT_AND_HASH[1..]),
            format!("$2a$12${}!", &SALT_AND_HASH[1..]),
            format!("$2a$12${SALT_AND_HASH}x"),
        ] {
            assert_eq!(
                target(PasswordFormat::Bcrypt, &current, &DEFAULTS),
                defaults,
                "{current:?}"
            );
        }
        let fresh = hash_replacing(PasswordFormat::Bcrypt, "pw", None, &FLOOR).unwrap();
        assert!(fresh.starts_with("$2a$04$"), "{fresh}");
    }

    #[test]
    fn nile_keeps_the_cost_and_writes_2a() {
        let payload = serde_json::json!({
            "crypt": "crypt-bf/12",
            "hash": bcrypt_with("2b", "12"),
            "email": "jane@example.com",
        })
        .to_string();
        let expect = |cost| Target::Bcrypt {
            prefix: BcryptPrefix::TwoA,
            cost,
        };
        assert_eq!(
            target(PasswordFormat::Nile, &payload, &DEFAULTS),
            expect(12)
        );
        assert_eq!(
            target(PasswordFormat::Nile, &bcrypt_with("2y", "11"), &DEFAULTS),
            expect(11)
        );
        for current in ["", "{}", "{\"hash\": 12}", "{not json", "!abc"] {
            assert_eq!(
                target(PasswordFormat::Nile, current, &DEFAULTS),
                expect(10),
                "{current:?}"
            );
        }
        let payload = serde_json::json!({ "hash": bcrypt_with("2a", "05") }).to_string();
        let new = hash_replacing(PasswordFormat::Nile, "pw", Some(&payload), &FLOOR).unwrap();
        assert!(new.starts_with("$2a$05$"), "{new}");
        assert!(bcrypt::verify("pw", &new).unwrap());
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
        let fresh =
            hash_replacing(PasswordFormat::DjangoPbkdf2Sha256, "pw 12345", None, &FLOOR).unwrap();
        let parts: Vec<&str> = fresh.split('$').collect();
        assert_eq!(parts[..2], ["pbkdf2_sha256", "1000"]);
        assert_eq!(parts[2].len(), 22);
        assert!(parts[2].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(fresh, django_pbkdf2_sha256("pw 12345", parts[2], 1000));
    }

    #[test]
    fn django_pbkdf2_iterations_never_drop() {
        let plan = |current: &str| target(PasswordFormat::DjangoPbkdf2Sha256, current, &DEFAULTS);
        let iterations = |n| Target::Pbkdf2Sha256 { iterations: n };
        assert_eq!(
            plan("pbkdf2_sha256$1200000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A="),
            iterations(1_200_000)
        );
        assert_eq!(plan("pbkdf2_sha256$600000$s$h"), iterations(1_000_000));
        assert_eq!(plan("pbkdf2_sha256$100000000$s$h"), iterations(100_000_000));
        // Hashed with cheap numbers: 2000 over a floor of 1000 stays 2000.
        let current = django_pbkdf2_sha256("old", "seasalt", 2000);
        let new = hash_replacing(
            PasswordFormat::DjangoPbkdf2Sha256,
            "new password",
            Some(&current),
            &FLOOR,
        )
        .unwrap();
        let salt = new.split('$').nth(2).unwrap();
        assert!(new.starts_with("pbkdf2_sha256$2000$"), "{new}");
        assert_eq!(new, django_pbkdf2_sha256("new password", salt, 2000));
    }

    #[test]
    fn unreadable_django_pbkdf2_gets_the_defaults() {
        for current in [
            "",
            "!abc",
            "!Yl6ZcOtaS6QjPy0iRZVqAWz3PxKuI4X1lXhQ2gLd",
            "md5$seasalt$0123456789abcdef0123456789abcdef",
            "pbkdf2_sha1$1200000$s$h",
            "garbage",
            "pbkdf2_sha256$$s$h",
            "pbkdf2_sha256$12e5$s$h",
            "pbkdf2_sha256$-1200000$s$h",
            "pbkdf2_sha256$ 1200000$s$h",
            "pbkdf2_sha256$4294967296$s$h",
            "pbkdf2_sha256$100000001$s$h",
            "pbkdf2_sha256$1200000$$h",
            "pbkdf2_sha256$1200000$s$",
            "pbkdf2_sha256$1200000$s",
            "pbkdf2_sha256$1200000$s$h$extra",
        ] {
            assert_eq!(
                target(PasswordFormat::DjangoPbkdf2Sha256, current, &DEFAULTS),
                Target::Pbkdf2Sha256 {
                    iterations: 1_000_000
                },
                "{current:?}"
            );
        }
    }

    #[test]
    fn argon2id_is_phc_and_verifies() {
        let encoded =
            hash_replacing(PasswordFormat::Argon2id, "correct horse", None, &FLOOR).unwrap();
        assert!(
            encoded.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{encoded}"
        );
        let parsed = PasswordHash::new(&encoded).unwrap();
        let verifier = argon2::Argon2::default();
        assert!(verifier.verify_password(b"correct horse", &parsed).is_ok());
        assert!(verifier.verify_password(b"wrong horse", &parsed).is_err());
    }

    /// The known answer comes from the reference implementation (libargon2's
    /// `argon2id_hash_encoded` with t=2, m=64, p=2, a 32-byte hash, salt
    /// "somesalt12345678", password "lètmein").
    #[test]
    fn argon2id_matches_the_reference_implementation() {
        let encoded = argon2id_phc("lètmein", b"somesalt12345678", argon2_cost(64, 2, 2)).unwrap();
        assert_eq!(
            encoded,
            "$argon2id$v=19$m=64,t=2,p=2$c29tZXNhbHQxMjM0NTY3OA$9PH0xyXOxSam+uNc3wKX4IeRn2ECPLcgjO9djSA3JTQ"
        );
    }

    #[test]
    fn argon2id_keeps_and_raises_the_parameters() {
        let plan = |current: &str| target(PasswordFormat::Argon2id, current, &DEFAULTS);
        // argon2-cffi's defaults equal the settings' defaults and stay.
        assert_eq!(
            plan("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaA"),
            Target::Argon2id(argon2_cost(65536, 3, 4))
        );
        // Each parameter is raised on its own to the floor.
        assert_eq!(
            plan("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA"),
            Target::Argon2id(argon2_cost(65536, 3, 4))
        );
        assert_eq!(
            plan("$argon2id$v=19$m=262144,t=1,p=8$c29tZXNhbHQ$aGFzaA"),
            Target::Argon2id(argon2_cost(262144, 3, 8))
        );
        assert_eq!(
            plan("$argon2id$v=19$m=4096,t=10,p=1$c29tZXNhbHQ$aGFzaA"),
            Target::Argon2id(argon2_cost(65536, 10, 4))
        );
        // Django before 3.2 wrote argon2i, and Argon2 1.0 no version.
        assert_eq!(
            plan("$argon2i$m=131072,t=4,p=2$c29tZXNhbHQ$aGFzaA"),
            Target::Argon2id(argon2_cost(131072, 4, 4))
        );
        // Hashed with cheap numbers, kept and raised.
        let current = argon2id_phc("old", b"somesalt", argon2_cost(128, 2, 2)).unwrap();
        let kept = hash_replacing(PasswordFormat::Argon2id, "pw", Some(&current), &FLOOR).unwrap();
        assert_eq!(phc_cost(&kept), argon2_cost(128, 2, 2), "{kept}");
        let floor = HashFloor {
            argon2: argon2_cost(256, 1, 3),
            ..FLOOR
        };
        let raised =
            hash_replacing(PasswordFormat::Argon2id, "pw", Some(&current), &floor).unwrap();
        assert_eq!(phc_cost(&raised), argon2_cost(256, 2, 3), "{raised}");
        let parsed = PasswordHash::new(&raised).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(b"pw", &parsed)
            .is_ok());
        assert!(argon2::Argon2::default()
            .verify_password(b"old", &parsed)
            .is_err());
    }

    #[test]
    fn argon2_memory_covers_every_lane() {
        // Argon2 needs 8 KiB per lane: a floor below that is lifted, so
        // no setting can make an invalid hash.
        assert_eq!(
            argon2_cost(64, 1, 1).at_least(argon2_cost(8, 1, 40)),
            argon2_cost(320, 1, 40)
        );
        let new = hash_replacing(
            PasswordFormat::Argon2id,
            "pw",
            Some("$argon2id$v=19$m=16,t=1,p=4$c29tZXNhbHQ$aGFzaA"),
            &FLOOR,
        )
        .unwrap();
        assert_eq!(phc_cost(&new), argon2_cost(64, 1, 4), "{new}");
        let parsed = PasswordHash::new(&new).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(b"pw", &parsed)
            .is_ok());
    }

    #[test]
    fn unreadable_argon2_gets_the_defaults() {
        let defaults = Target::Argon2id(argon2_cost(65536, 3, 4));
        for current in [
            "",
            "!abc",
            "md5$salt$hash",
            "garbage",
            "$2a$12$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
            "$argon2x$v=19$m=131072,t=4,p=8$c29tZXNhbHQ$aGFzaA",
            "$scrypt$ln=16,r=8,p=1$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=20$m=131072,t=4,p=8$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=131072,t=4$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=131072,t=4,p=8,x=1$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=131072,m=131072,t=4,p=8$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=128k,t=4,p=8$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=-1,t=4,p=8$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=4294967296,t=4,p=8$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=131072,t=4,p=8$$aGFzaA",
            "$argon2id$v=19$m=131072,t=4,p=8$c29tZXNhbHQ$",
            "$argon2id$v=19$m=131072,t=4,p=8$c29t=ZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=131072,t=4,p=8$c29tZXNhbHQ$aGFzaA$",
            "argon2id$v=19$m=131072,t=4,p=8$c29tZXNhbHQ$aGFzaA",
            // Django's encoding is not the PHC format's.
            "argon2$argon2id$v=19$m=131072,t=4,p=8$c29tZXNhbHQ$aGFzaA",
        ] {
            assert_eq!(
                target(PasswordFormat::Argon2id, current, &DEFAULTS),
                defaults,
                "{current:?}"
            );
        }
    }

    /// Parameters no application logs in with would pin the backend (or
    /// allocate gigabytes): the defaults replace them, while the largest
    /// ones the settings allow are kept.
    #[test]
    fn absurd_parameters_get_the_defaults() {
        let defaults = Target::Argon2id(argon2_cost(65536, 3, 4));
        for current in [
            "$argon2id$v=19$m=4194305,t=3,p=4$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=65536,t=101,p=4$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=65536,t=3,p=256$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=4294967295,t=4294967295,p=16777215$c29tZXNhbHQ$aGFzaA",
        ] {
            assert_eq!(
                target(PasswordFormat::Argon2id, current, &DEFAULTS),
                defaults,
                "{current:?}"
            );
        }
        assert_eq!(
            read_argon2_phc("$argon2id$v=19$m=4194304,t=100,p=255$c29tZXNhbHQ$aGFzaA"),
            Some(argon2_cost(ARGON2_MAX_MEMORY_KIB, 100, 255))
        );
        assert_eq!(
            read_django_pbkdf2("pbkdf2_sha256$100000000$s$h"),
            Some(100_000_000)
        );
        assert_eq!(read_django_pbkdf2("pbkdf2_sha256$100000001$s$h"), None);
        assert_eq!(bcrypt_cost_of(&bcrypt_with("2a", "31")), Some(31));
        assert_eq!(bcrypt_cost_of(&bcrypt_with("2a", "32")), None);
    }

    #[test]
    fn django_argon2_is_djangos_encoding_and_verifies() {
        let new =
            hash_replacing(PasswordFormat::DjangoArgon2, "correct horse", None, &FLOOR).unwrap();
        let phc = new.strip_prefix("argon2").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{new}");
        let parts: Vec<&str> = phc.split('$').collect();
        assert_eq!(parts.len(), 6, "{new}");
        // The salt is Django's: 22 alphanumeric characters, base64 encoded.
        let salt = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[4])
            .unwrap();
        assert_eq!(salt.len(), 22);
        assert!(salt.iter().all(u8::is_ascii_alphanumeric));
        assert_eq!(parts[5].len(), 43, "a 32-byte hash");
        let parsed = PasswordHash::new(phc).unwrap();
        let verifier = argon2::Argon2::default();
        assert!(verifier.verify_password(b"correct horse", &parsed).is_ok());
        assert!(verifier.verify_password(b"wrong horse", &parsed).is_err());
    }

    #[test]
    fn django_argon2_keeps_and_raises_the_parameters() {
        let plan = |current: &str| target(PasswordFormat::DjangoArgon2, current, &DEFAULTS);
        // Django's defaults: t=2, m=102400, p=8; t is raised to the floor.
        assert_eq!(
            plan("argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$aGFzaA"),
            Target::Argon2id(argon2_cost(102400, 3, 8))
        );
        assert_eq!(
            plan("argon2$argon2i$v=19$m=512,t=2,p=2$c29tZXNhbHQ$aGFzaA"),
            Target::Argon2id(argon2_cost(65536, 3, 4))
        );
        for current in [
            "",
            "!abc",
            "pbkdf2_sha256$1200000$s$h",
            "$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$aGFzaA",
            "argon2argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$aGFzaA",
            "argon2$argon2id$v=19$m=102400,t=200,p=8$c29tZXNhbHQ$aGFzaA",
        ] {
            assert_eq!(
                plan(current),
                Target::Argon2id(argon2_cost(65536, 3, 4)),
                "{current:?}"
            );
        }
        let current = format!(
            "argon2{}",
            argon2id_phc("old", b"somesalt", argon2_cost(96, 2, 3)).unwrap()
        );
        let new =
            hash_replacing(PasswordFormat::DjangoArgon2, "pw", Some(&current), &FLOOR).unwrap();
        let phc = new.strip_prefix("argon2").unwrap();
        assert_eq!(phc_cost(phc), argon2_cost(96, 2, 3), "{new}");
        let parsed = PasswordHash::new(phc).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(b"pw", &parsed)
            .is_ok());
    }
}
