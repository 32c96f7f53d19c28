//! The extension's settings: real GUCs, so `SET`, `ALTER DATABASE ... SET`
//! and postgresql.conf all work, and PostgreSQL validates ranges for us.
//!
//! Every setting is SUSET: they are security policy (token lifetime, resend
//! rate, password rules), which the DBA owns, not the roles that call the
//! functions.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::password::{
    Argon2Cost, HashFloor, ARGON2_MAX_ITERATIONS, ARGON2_MAX_MEMORY_KIB, ARGON2_MAX_PARALLELISM,
    BCRYPT_MAX_COST, PBKDF2_MAX_ITERATIONS,
};

pub static TOKEN_TTL_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(3600);
pub static MIN_RESEND_INTERVAL_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(60);
/// The default NOTIFY channel; `auth.sender_limits()` says the same (a
/// test checks they agree).
pub const DEFAULT_CHANNEL: &str = "nile_reset_email";
pub static NOTIFY_CHANNEL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"nile_reset_email"));
pub static MIN_PASSWORD_LENGTH: GucSetting<i32> = GucSetting::<i32>::new(8);
pub static BCRYPT_COST: GucSetting<i32> = GucSetting::<i32>::new(10);
/// Django's default for PBKDF2-SHA256 since Django 5.2.
pub static PBKDF2_ITERATIONS: GucSetting<i32> = GucSetting::<i32>::new(1_000_000);
/// argon2-cffi's defaults, RFC 9106's second recommended option (64 MiB,
/// 3 passes, 4 lanes): what Python applications hash with unless they chose.
pub static ARGON2_MEMORY_KIB: GucSetting<i32> = GucSetting::<i32>::new(65536);
pub static ARGON2_ITERATIONS: GucSetting<i32> = GucSetting::<i32>::new(3);
pub static ARGON2_PARALLELISM: GucSetting<i32> = GucSetting::<i32>::new(4);
/// No effect since 0.3.0 (wrong tokens no longer throttle): kept so that
/// configurations that set them still load without a warning.
pub static MAX_FAILED_ATTEMPTS: GucSetting<i32> = GucSetting::<i32>::new(5);
pub static FAILURE_BLOCK_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
pub static MAX_FAILURE_BLOCK_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(900);
/// Read by the install guard (sql/schema.sql) only.
pub static ALLOW_AUTH_SCHEMA_CREATORS: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static WAKEUPS: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static DEFAULT_LOCALE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"en"));

/// bcrypt only looks at the first 72 bytes of a password.
pub const MAX_PASSWORD_BYTES: usize = 72;

pub fn register() {
    GucRegistry::define_int_guc(
        c"nile_reset.token_ttl",
        c"How long a password reset token stays valid.",
        c"Between 1 minute and 7 days; accepts units, e.g. '30min'.",
        &TOKEN_TTL_SECONDS,
        60,
        7 * 24 * 3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"nile_reset.min_resend_interval",
        c"Minimum time between two reset tokens for the same user.",
        c"A request inside this window does nothing, exactly as for an unknown email.",
        &MIN_RESEND_INTERVAL_SECONDS,
        0,
        24 * 3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"nile_reset.notify_channel",
        c"NOTIFY channel that wakes the email sender.",
        c"A plain identifier of at most 63 bytes.",
        &NOTIFY_CHANNEL,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"nile_reset.wakeups",
        c"Whether queueing an email NOTIFYs a sleeping sender.",
        c"Off leaves delivery to the senders' polling.",
        &WAKEUPS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"nile_reset.default_locale",
        c"Locale of the email templates for users without one.",
        c"A BCP 47 tag such as en or pt-BR; see nile_reset.email_templates.",
        &DEFAULT_LOCALE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"nile_reset.min_password_length",
        c"Minimum length, in characters, of a new password.",
        c"",
        &MIN_PASSWORD_LENGTH,
        1,
        MAX_PASSWORD_BYTES as i32,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"nile_reset.bcrypt_cost",
        c"bcrypt cost factor for new password hashes.",
        c"Each step doubles the hashing time.",
        &BCRYPT_COST,
        4,
        BCRYPT_MAX_COST as i32,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"nile_reset.pbkdf2_iterations",
        c"PBKDF2-SHA256 iterations of new django_pbkdf2_sha256 password hashes.",
        c"Django checks any count it finds in the hash; match your Django version's default.",
        &PBKDF2_ITERATIONS,
        1000,
        PBKDF2_MAX_ITERATIONS as i32,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"nile_reset.argon2_memory_kib",
        c"Argon2 memory of new argon2id and django_argon2 password hashes.",
        c"Up to 4GB; accepts units, e.g. '64MB'. Raised to 8kB per lane.",
        &ARGON2_MEMORY_KIB,
        8,
        ARGON2_MAX_MEMORY_KIB as i32,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"nile_reset.argon2_iterations",
        c"Argon2 passes over the memory of new argon2id and django_argon2 password hashes.",
        c"",
        &ARGON2_ITERATIONS,
        1,
        ARGON2_MAX_ITERATIONS as i32,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"nile_reset.argon2_parallelism",
        c"Argon2 lanes of new argon2id and django_argon2 password hashes.",
        c"Lanes are computed one after another: time grows with them.",
        &ARGON2_PARALLELISM,
        1,
        ARGON2_MAX_PARALLELISM as i32,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"nile_reset.max_failed_attempts",
        c"No effect since 0.3.0: wrong tokens are not counted.",
        c"Wrong tokens never delay the right one; per-client rate limits in front bound guessing.",
        &MAX_FAILED_ATTEMPTS,
        1,
        1000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"nile_reset.failure_block",
        c"No effect since 0.3.0: wrong tokens do not block an identifier.",
        c"",
        &FAILURE_BLOCK_MS,
        1,
        3_600_000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"nile_reset.max_failure_block",
        c"No effect since 0.3.0: wrong tokens do not block an identifier.",
        c"",
        &MAX_FAILURE_BLOCK_SECONDS,
        1,
        24 * 3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_bool_guc(
        c"nile_reset.allow_auth_schema_creators",
        c"Install into an auth schema that roles other than its owner can create objects in.",
        c"Such a role can shadow nile_reset's functions for callers that pass varchar or unknown-typed arguments; callers must then pass text.",
        &ALLOW_AUTH_SCHEMA_CREATORS,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The hash settings, the floor of a reset's new hash: the user's current
/// hash may raise each of them, never lower it. PostgreSQL keeps each within
/// its range, all positive.
pub fn hash_floor() -> HashFloor {
    HashFloor {
        bcrypt_cost: BCRYPT_COST.get() as u32,
        pbkdf2_iterations: PBKDF2_ITERATIONS.get() as u32,
        argon2: Argon2Cost {
            memory_kib: ARGON2_MEMORY_KIB.get() as u32,
            iterations: ARGON2_ITERATIONS.get() as u32,
            parallelism: ARGON2_PARALLELISM.get() as u32,
        },
    }
}

/// The NOTIFY channel, checked at use: string GUCs have no range to enforce.
pub fn notify_channel() -> String {
    let channel = NOTIFY_CHANNEL
        .get()
        .map(|c| c.into_string().unwrap_or_default())
        .unwrap_or_else(|| DEFAULT_CHANNEL.to_owned());
    if !is_channel_name(&channel) {
        crate::error::invalid_setting(
            "nile_reset.notify_channel must be a plain identifier of 1 to 63 characters",
        );
    }
    channel
}

/// The default template locale (empty when unset: any locale then serves).
pub fn default_locale() -> String {
    DEFAULT_LOCALE
        .get()
        .map(|c| c.into_string().unwrap_or_default())
        .unwrap_or_default()
}

/// `^[A-Za-z0-9_]{1,63}$`, the `channel_pattern` of `auth.sender_limits()`.
pub fn is_channel_name(channel: &str) -> bool {
    (1..64).contains(&channel.len())
        && channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
}
