//! Finishing the flow: `auth.verify_password_token` checks a token without
//! using it up; `auth.reset_password` consumes it exactly once and sets the
//! new password in the application's user directory.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::directory::{self, Directory, User};
use crate::error::{bad_token, internal_error, or_raise, required};
use crate::outbox::enqueue;
use crate::password::{check_password, HashCost, PasswordFormat};
use crate::settings::{
    BCRYPT_COST, FAILURE_BLOCK_MS, MAX_FAILED_ATTEMPTS, MAX_FAILURE_BLOCK_SECONDS,
    PBKDF2_ITERATIONS,
};
use crate::spi::{execute, first_row, not_null, Statement};
use crate::status::TokenStatus;
use crate::templates::load_template;
use crate::token;

/// The identifier's token row, locked: concurrent verifies and resets of one
/// identifier take turns, and a reset that waited finds the row gone.
/// `blocked`: the brute-force throttle. After $2 (max_failed_attempts)
/// wrong tokens, each further check waits until last_failure + $3 ms
/// (failure_block) x 2^(failures - $2), at most $4 s (max_failure_block).
/// `revoked` only for rows revoked by 0.1.0, which revoked on failures.
const LOCK_TOKEN: Statement = Statement {
    sql: "SELECT t.identifier, t.user_id, t.token, t.expires,
                 t.expires > now() AS live, t.expires = '-infinity' AS revoked,
                 t.failed_attempts >= $2 AND t.last_failure IS NOT NULL
                   AND now() < t.last_failure + LEAST(
                         $3 * interval '1 millisecond'
                           * pg_catalog.power(2, LEAST(t.failed_attempts - $2, 30)),
                         $4 * interval '1 second') AS blocked
            FROM nile_reset.verification_tokens t
           WHERE t.identifier = $1
             FOR UPDATE",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::INT4OID,
        PgBuiltInOids::INT4OID,
        PgBuiltInOids::INT4OID,
    ],
};

/// Counts a wrong token and when it came. The token itself stays valid:
/// wrong guesses by a stranger must never stop the user's own link.
const COUNT_FAILURE: Statement = Statement {
    sql: "UPDATE nile_reset.verification_tokens
             SET failed_attempts = failed_attempts + 1, last_failure = now()
           WHERE identifier = $1",
    args: &[PgBuiltInOids::TEXTOID],
};

/// Consumes the token (after a reset), or drops one whose user is gone.
const DELETE_TOKEN: Statement = Statement {
    sql: "DELETE FROM nile_reset.verification_tokens WHERE identifier = $1",
    args: &[PgBuiltInOids::TEXTOID],
};

enum TokenState {
    Valid(TimestampWithTimeZone, User, String),
    Expired(TimestampWithTimeZone),
    Invalid,
}

/// Checks `candidate` against the identifier's token, counting a wrong one.
/// A right token is still invalid when the user it was issued to no longer
/// has that email, or is deleted or disabled: the token is then dropped.
/// While the identifier is throttled nothing is compared nor counted: the
/// answer is invalid, and an attacker's guesses during a block neither
/// lengthen it nor learn anything; the user's link works again when it ends.
fn check_token(
    client: &mut SpiClient<'_>,
    directory: &Directory,
    identifier: &str,
    candidate: &str,
) -> TokenState {
    let identifier = crate::email::normalize(client, identifier);
    let args = [
        identifier.as_str().into(),
        MAX_FAILED_ATTEMPTS.get().into(),
        FAILURE_BLOCK_MS.get().into(),
        MAX_FAILURE_BLOCK_SECONDS.get().into(),
    ];
    let Some(row) = first_row(execute(client, &LOCK_TOKEN, &args)) else {
        // Hash even when there is nothing to compare with, so an unknown
        // identifier costs the same as a wrong token.
        let _ = token::digest(candidate);
        return TokenState::Invalid;
    };
    let stored_identifier: String = not_null(&row, "identifier");
    let user_id: String = not_null(&row, "user_id");
    let digest: String = not_null(&row, "token");
    let expires: TimestampWithTimeZone = not_null(&row, "expires");
    let live: bool = not_null(&row, "live");
    let revoked: bool = not_null(&row, "revoked");
    if not_null::<bool>(&row, "blocked") {
        return TokenState::Invalid;
    }
    if !token::matches(candidate, &digest) {
        execute(client, &COUNT_FAILURE, &[stored_identifier.as_str().into()]);
        return TokenState::Invalid;
    }
    if revoked {
        return TokenState::Invalid;
    }
    let Some(user) = directory.find_holder(client, &user_id, &stored_identifier) else {
        execute(client, &DELETE_TOKEN, &[stored_identifier.as_str().into()]);
        return TokenState::Invalid;
    };
    if live {
        TokenState::Valid(expires, user, stored_identifier)
    } else {
        TokenState::Expired(expires)
    }
}

fn status_of(state: &TokenState) -> (TokenStatus, Option<TimestampWithTimeZone>) {
    match state {
        TokenState::Valid(expires, ..) => (TokenStatus::Valid, Some(*expires)),
        TokenState::Expired(expires) => (TokenStatus::Expired, Some(*expires)),
        TokenState::Invalid => (TokenStatus::Invalid, None),
    }
}

/// Is `token` the identifier's live token? `status` is `valid`, `invalid`
/// (wrong, unknown, or its user deleted, disabled or with another email
/// now: indistinguishable) or `expired` (only said to a caller who holds
/// the right token). Wrong tokens count towards
/// `nile_reset.max_failed_attempts`. The token is not consumed.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn verify_password_token(
    identifier: Option<&str>,
    token: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(status, String),
        name!(expires, Option<TimestampWithTimeZone>),
    ),
> {
    let identifier = required(identifier, "identifier");
    let candidate = required(token, "token");
    let (status, expires) = Spi::connect_mut(|client| {
        let directory = directory::load(client);
        status_of(&check_token(client, &directory, identifier, candidate))
    });
    TableIterator::once((status.as_str().to_owned(), expires))
}

/// The text the directory stores: the hash itself, or for Nile's shape the
/// credential payload around it.
fn stored_password(format: PasswordFormat, password: &str, email: &str) -> String {
    let cost = HashCost {
        bcrypt_cost: BCRYPT_COST.get() as u32,
        pbkdf2_iterations: PBKDF2_ITERATIONS.get() as u32,
    };
    let hash =
        crate::password::hash(format, password, &cost).unwrap_or_else(|e| internal_error(&e));
    match format {
        PasswordFormat::Nile => serde_json::json!({
            "crypt": format!("crypt-bf/{}", cost.bcrypt_cost),
            "hash": hash,
            "email": email,
        })
        .to_string(),
        _ => hash,
    }
}

/// Checks a new password against the policy without using a token: raises
/// the same errors as `auth.reset_password` would (22004, 22001, 22023), so a
/// client can refuse a password before it asks for a reset link.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn check_new_password(new_password: Option<&str>) {
    or_raise(check_password(required(new_password, "new_password")));
}

/// Consumes the identifier's token and sets `new_password` in the user
/// directory's format: the token is deleted (and, for Nile's shape, the
/// user's sessions) and a `password_alert` email is queued, all in the
/// caller's transaction. Returns the user's id, as text. Of any number of
/// concurrent calls with the right token exactly one succeeds; the others
/// find the token gone (28000).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn reset_password(
    identifier: Option<&str>,
    token: Option<&str>,
    new_password: Option<&str>,
) -> String {
    let identifier = required(identifier, "identifier");
    let candidate = required(token, "token");
    let password = required(new_password, "new_password");
    or_raise(check_password(password));

    Spi::connect_mut(|client| {
        let directory = directory::load(client);
        let (user, stored_identifier) = match check_token(client, &directory, identifier, candidate)
        {
            TokenState::Valid(_, user, stored_identifier) => (user, stored_identifier),
            TokenState::Expired(_) => bad_token("reset token has expired"),
            TokenState::Invalid => bad_token("reset token is invalid or has already been used"),
        };
        let stored = stored_password(directory.format, password, &user.email);
        if !directory.set_password(client, &user, &stored) {
            bad_token("reset token is invalid or has already been used");
        }
        execute(client, &DELETE_TOKEN, &[stored_identifier.as_str().into()]);
        let template = load_template(client, "password_alert", user.locale.as_deref());
        let username = crate::templates::user_value(user.name.as_deref().unwrap_or(&user.email));
        let alert_id = enqueue(
            client,
            &template,
            &user.email,
            &[("username", username.as_str())],
            None,
        );
        crate::outbox::wake(client, alert_id);
        user.id
    })
}
