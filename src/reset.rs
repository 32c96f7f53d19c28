//! Finishing the flow: `auth.verify_password_token` checks a token without
//! using it up; `auth.reset_password` consumes it exactly once and sets the
//! new password.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{JsonB, Uuid};

use crate::error::{bad_token, internal_error, or_raise, required};
use crate::outbox::{enqueue, load_template};
use crate::password::check_password;
use crate::plans::{execute, Statement};
use crate::settings::{BCRYPT_COST, MAX_FAILED_ATTEMPTS};
use crate::token;

/// The identifier's token row, locked: concurrent verifies and resets of one
/// identifier take turns, and a reset that waited finds the row gone.
const LOCK_TOKEN: Statement = Statement {
    sql: "SELECT t.token, t.expires, t.expires > now(), t.expires = '-infinity'
            FROM auth.verification_tokens t
           WHERE t.identifier = pg_catalog.lower($1)
             FOR UPDATE",
    args: &[PgBuiltInOids::TEXTOID],
};

/// Counts a wrong token; at the limit the token is revoked (expiry moved to
/// -infinity, the row kept so the resend interval still holds).
const COUNT_FAILURE: Statement = Statement {
    sql: "UPDATE auth.verification_tokens
             SET failed_attempts = failed_attempts + 1,
                 expires = CASE WHEN failed_attempts + 1 >= $2 THEN '-infinity' ELSE expires END
           WHERE identifier = pg_catalog.lower($1)",
    args: &[PgBuiltInOids::TEXTOID, PgBuiltInOids::INT4OID],
};

const FIND_USER: Statement = Statement {
    sql: "SELECT u.id, u.email, u.name FROM users.users u
           WHERE pg_catalog.lower(u.email) = pg_catalog.lower($1) AND u.deleted IS NULL",
    args: &[PgBuiltInOids::TEXTOID],
};

/// Sets the password credential and ends what the old password allowed:
/// every token of the identifier and every session of the user.
const APPLY_RESET: Statement = Statement {
    sql: "WITH credential AS (
              INSERT INTO auth.credentials AS c (user_id, method, provider, payload)
              VALUES ($1, 'EMAIL_PASSWORD', 'nile', $2)
              ON CONFLICT (user_id, method, provider) WHERE deleted IS NULL
              DO UPDATE SET payload = excluded.payload, updated = now()
              RETURNING 1),
          tokens AS (
              DELETE FROM auth.verification_tokens WHERE identifier = pg_catalog.lower($3) RETURNING 1),
          sessions AS (
              DELETE FROM auth.sessions WHERE user_id = $1 RETURNING 1)
          SELECT (SELECT count(*) FROM credential), (SELECT count(*) FROM sessions)",
    args: &[PgBuiltInOids::UUIDOID, PgBuiltInOids::JSONBOID, PgBuiltInOids::TEXTOID],
};

enum TokenState {
    Valid(TimestampWithTimeZone),
    Expired(TimestampWithTimeZone),
    Invalid,
}

/// Checks `candidate` against the identifier's token, counting a wrong one.
fn check_token(client: &mut SpiClient<'_>, identifier: &str, candidate: &str) -> TokenState {
    let table = execute(client, &LOCK_TOKEN, &[identifier.into()]);
    let row = table.into_iter().next();
    let stored = row.as_ref().and_then(|row| {
        Some((
            row.get::<String>(1).ok().flatten()?,
            row.get::<TimestampWithTimeZone>(2).ok().flatten()?,
            row.get::<bool>(3).ok().flatten()?,
            row.get::<bool>(4).ok().flatten()?,
        ))
    });
    // Hash even when there is nothing to compare with, so an unknown
    // identifier costs the same as a wrong token.
    let Some((digest, expires, live, revoked)) = stored else {
        let _ = token::digest(candidate);
        return TokenState::Invalid;
    };
    if !token::matches(candidate, &digest) {
        execute(
            client,
            &COUNT_FAILURE,
            &[identifier.into(), MAX_FAILED_ATTEMPTS.get().into()],
        );
        return TokenState::Invalid;
    }
    match (revoked, live) {
        (true, _) => TokenState::Invalid,
        (false, true) => TokenState::Valid(expires),
        (false, false) => TokenState::Expired(expires),
    }
}

/// Is `token` the identifier's live token? `status` is `valid`, `invalid`
/// (wrong or unknown: indistinguishable) or `expired` (only said to a caller
/// who holds the right token). Wrong tokens count towards
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
    let state = Spi::connect_mut(|client| check_token(client, identifier, candidate));
    TableIterator::once(match state {
        TokenState::Valid(expires) => ("valid".to_owned(), Some(expires)),
        TokenState::Expired(expires) => ("expired".to_owned(), Some(expires)),
        TokenState::Invalid => ("invalid".to_owned(), None),
    })
}

/// Consumes the identifier's token and sets `new_password`: the credential
/// is replaced, every token and session of the user is deleted and a
/// `password_alert` email is queued, all in the caller's transaction.
/// Returns the user's id. Of any number of concurrent calls with the right
/// token exactly one succeeds; the others find the token gone (28000).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn reset_password(
    identifier: Option<&str>,
    token: Option<&str>,
    new_password: Option<&str>,
) -> Uuid {
    let identifier = required(identifier, "identifier");
    let candidate = required(token, "token");
    let password = required(new_password, "new_password");
    or_raise(check_password(password));

    Spi::connect_mut(|client| {
        match check_token(client, identifier, candidate) {
            TokenState::Valid(_) => {}
            TokenState::Expired(_) => bad_token("reset token has expired"),
            TokenState::Invalid => bad_token("reset token is invalid or has already been used"),
        }
        let users = execute(client, &FIND_USER, &[identifier.into()]);
        let Some(user) = users.into_iter().next() else {
            bad_token("reset token is invalid or has already been used");
        };
        let user_id: Uuid = user.get(1).ok().flatten().expect("users.id is not null");
        let email: String = user.get(2).ok().flatten().expect("users.email is not null");
        let username: Option<String> = user.get(3).ok().flatten();

        let cost = BCRYPT_COST.get();
        let hash = crate::password::bcrypt_hash(password, cost as u32)
            .unwrap_or_else(|e| internal_error(&format!("bcrypt failed: {e}")));
        let payload = serde_json::json!({
            "crypt": format!("crypt-bf/{cost}"),
            "hash": hash,
            "email": email,
        });
        execute(
            client,
            &APPLY_RESET,
            &[user_id.into(), JsonB(payload).into(), identifier.into()],
        );
        let template = load_template(client, "password_alert");
        let username = username.unwrap_or_else(|| email.clone());
        enqueue(
            client,
            &template,
            &email,
            &[("username", username.as_str())],
        );
        user_id
    })
}
