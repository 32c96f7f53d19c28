//! Finishing the flow: `auth.verify_password_token` checks a token without
//! using it up; `auth.reset_password` consumes it exactly once and sets the
//! new password in the application's user directory.

use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::fcinfo::pg_getarg;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::directory::{self, Directory, User};
use crate::error::{bad_token, internal_error, or_raise, required};
use crate::one_row::{self, one_row_function};
use crate::outbox::{
    outbox_columns, wake_args, wake_expression, Email, EMAIL_ARGS, EMAIL_TYPES, WAKE_ARGS,
    WAKE_TYPES,
};
use crate::password::{bcrypt_cost_of, check_password_for, hash_replacing, PasswordFormat};
use crate::spi::{execute, first_row, not_null, query, types, Statement};
use crate::status::TokenStatus;
use crate::templates::load_template;
use crate::token;

/// The identifier's token row, read without a lock: a check with a wrong
/// token must write nothing (no row lock, no transaction id, no WAL flush at
/// commit), so that it costs the same whether or not the identifier has a
/// token. Liveness is judged in Rust (`is_live`, `-infinity` marks a row
/// revoked by 0.1.0, which revoked on failures): the statement projects
/// plain columns, and a wrong token stops after reading two of them.
const FIND_TOKEN: Statement = Statement {
    sql: "SELECT t.token, t.identifier, t.user_id, t.expires
            FROM nile_reset.verification_tokens t
           WHERE t.identifier = $1",
    args: &[PgBuiltInOids::TEXTOID],
};

/// Locks the token a reset is about to consume, once it is known to be the
/// right one: concurrent resets with it take turns, and one that waited
/// finds the row gone.
const LOCK_TOKEN: Statement = Statement {
    sql: "SELECT 1 FROM nile_reset.verification_tokens
           WHERE identifier = $1 AND token = $2
             FOR UPDATE",
    args: &[PgBuiltInOids::TEXTOID, PgBuiltInOids::TEXTOID],
};

/// Drops a token whose user is gone.
const DELETE_TOKEN: Statement = Statement {
    sql: "DELETE FROM nile_reset.verification_tokens WHERE identifier = $1",
    args: &[PgBuiltInOids::TEXTOID],
};

/// Consumes the token ($1) and queues the `password_alert` email ($2-$7,
/// `Email::args`) in one statement.
macro_rules! consume_and_alert_sql {
    ($returning:expr) => {
        concat!(
            "WITH consumed AS (DELETE FROM nile_reset.verification_tokens WHERE identifier = $1)
             INSERT INTO ",
            outbox_columns!(),
            " VALUES ($2, $3, $4, $5, $6, $7, NULL) RETURNING q.id",
            $returning
        )
    };
}

/// The token's identifier, then `Email::args`.
const CONSUME_TYPES: [PgBuiltInOids; 1 + EMAIL_ARGS] = types([PgBuiltInOids::TEXTOID], EMAIL_TYPES);

const CONSUME_AND_ALERT: Statement = Statement {
    sql: consume_and_alert_sql!(""),
    args: &CONSUME_TYPES,
};

const CONSUME_AND_WAKE_TYPES: [PgBuiltInOids; 1 + EMAIL_ARGS + WAKE_ARGS] =
    types(CONSUME_TYPES, WAKE_TYPES);

/// `CONSUME_AND_ALERT` and the wake-up ($8-$10, `outbox::wake_args`).
const CONSUME_ALERT_AND_WAKE: Statement = Statement {
    sql: consume_and_alert_sql!(concat!(", ", wake_expression!("$8", "$9", "$10"))),
    args: &CONSUME_AND_WAKE_TYPES,
};

enum TokenState {
    Valid(TimestampWithTimeZone, User, String),
    Expired(TimestampWithTimeZone),
    Invalid,
}

/// Whether a token expiring at `expires` is live: later than the
/// transaction's start, which is what `now()` returns.
fn is_live(expires: TimestampWithTimeZone) -> bool {
    pg_sys::TimestampTz::from(expires) > unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }
}

/// Whether the check may consume the token: a reset locks it first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Verify,
    Reset,
}

/// Checks `candidate` against the identifier's token. A right token is
/// still invalid when the user it was issued to no longer has that email,
/// or is deleted or disabled: the token is then dropped. A wrong token
/// changes nothing: no state a stranger can set delays the owner's link
/// (guessing 256 bits is hopeless; the shim's per-client rate limits bound
/// the traffic), and known and unknown identifiers run the same statement.
fn check_token(
    client: &mut SpiClient<'_>,
    directory: &Directory,
    identifier: &str,
    candidate: &str,
    purpose: Purpose,
) -> TokenState {
    let identifier = crate::email::normalize(identifier);
    let Some(row) = first_row(query(client, &FIND_TOKEN, &[identifier.as_str().into()])) else {
        // Hash even when there is nothing to compare with, so an unknown
        // identifier costs the same as a wrong token.
        let _ = token::digest(candidate);
        return TokenState::Invalid;
    };
    let digest: String = not_null(&row, "token");
    let expires: TimestampWithTimeZone = not_null(&row, "expires");
    if !token::matches(candidate, &digest) || expires.is_neg_infinity() {
        return TokenState::Invalid;
    }
    let stored_identifier: String = not_null(&row, "identifier");
    let user_id: String = not_null(&row, "user_id");
    if purpose == Purpose::Reset {
        let args = [stored_identifier.as_str().into(), digest.as_str().into()];
        if first_row(execute(client, &LOCK_TOKEN, &args)).is_none() {
            // Consumed (or replaced) by a concurrent call that committed first.
            return TokenState::Invalid;
        }
    }
    let Some(user) = directory.find_holder(client, &user_id, &stored_identifier) else {
        execute(client, &DELETE_TOKEN, &[stored_identifier.as_str().into()]);
        return TokenState::Invalid;
    };
    if is_live(expires) {
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
/// the right token). A wrong token changes nothing. The token is not
/// consumed.
///
/// `auth.verify_password_token(identifier text, token text) RETURNS TABLE
/// (status text, expires timestamptz)`, its one row in one call (`one_row`).
///
/// # Safety
/// `fcinfo` is that function's call.
unsafe fn verify_password_token(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the function's two arguments are text.
    let (identifier, token) =
        unsafe { (pg_getarg::<&str>(fcinfo, 0), pg_getarg::<&str>(fcinfo, 1)) };
    let identifier = required(identifier, "identifier");
    let candidate = required(token, "token");
    crate::cache::begin_call();
    let (status, expires) = Spi::connect_mut(|client| {
        let directory = directory::load(client);
        status_of(&check_token(
            client,
            &directory,
            identifier,
            candidate,
            Purpose::Verify,
        ))
    });
    // SAFETY: the row matches the declared (text, timestamptz).
    unsafe { one_row::answer(fcinfo, [status.as_str().into_datum(), expires.into_datum()]) }
}
one_row_function!(
    pg_finfo_verify_password_token_wrapper,
    verify_password_token_wrapper,
    verify_password_token
);
extension_sql!(
    r#"
CREATE FUNCTION "verify_password_token"(
	"identifier" TEXT,
	"token" TEXT
) RETURNS TABLE (
	"status" TEXT,
	"expires" timestamp with time zone
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'verify_password_token_wrapper';
"#,
    name = "verify_password_token",
    requires = ["schema"]
);

/// The text the directory stores: the hash itself, or for Nile's shape the
/// credential payload around it. The hash keeps the scheme of the user's
/// current one (`$2y$` stays `$2y$` for Laravel) and never gets weaker
/// than it or than the settings.
fn stored_password(format: PasswordFormat, password: &str, user: &User) -> String {
    let hash = hash_replacing(
        format,
        password,
        user.password_hash.as_deref(),
        &crate::settings::hash_floor(),
    )
    .unwrap_or_else(|e| internal_error(&e));
    match format {
        PasswordFormat::Nile => serde_json::json!({
            "crypt": format!("crypt-bf/{}", bcrypt_cost_of(&hash).unwrap_or_else(|| internal_error("a bcrypt hash without its cost"))),
            "hash": hash,
            "email": user.email,
        })
        .to_string(),
        _ => hash,
    }
}

/// Checks a new password against the policy without using a token: raises
/// the same errors as `auth.reset_password` would (22004, 22001, 22023; the
/// length limit is the directory's format's), so a client can refuse a
/// password before it asks for a reset link. SECURITY DEFINER to read the
/// directory's format, and nothing else.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn check_new_password(new_password: Option<&str>) {
    let password = required(new_password, "new_password");
    crate::cache::begin_call();
    let format = Spi::connect(|client| directory::load(client).format);
    or_raise(check_password_for(format, password));
}

/// Consumes the identifier's token and sets `new_password` in the user
/// directory's format: the token is deleted (and, for Nile's shape, the
/// user's sessions; the directory's `on_password_reset` function, if any,
/// runs) and a `password_alert` email is queued, all in the caller's
/// transaction. Returns the user's id, as text. Of any number of
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

    crate::cache::begin_call();
    Spi::connect_mut(|client| {
        let directory = directory::load(client);
        or_raise(check_password_for(directory.format, password));
        let (user, stored_identifier) =
            match check_token(client, &directory, identifier, candidate, Purpose::Reset) {
                TokenState::Valid(_, user, stored_identifier) => (user, stored_identifier),
                TokenState::Expired(_) => bad_token("reset token has expired"),
                TokenState::Invalid => bad_token("reset token is invalid or has already been used"),
            };
        let stored = stored_password(directory.format, password, &user);
        if !directory.set_password(client, &user, &stored) {
            bad_token("reset token is invalid or has already been used");
        }
        let sessions_ended = directory.end_sessions(client, &user);
        let template = load_template(client, "password_alert", user.locale.as_deref());
        let username = crate::templates::username_for(user.name.as_deref(), &user.email);
        let sessions_note = crate::templates::sessions_note(sessions_ended);
        let alert = Email::render(
            &template,
            &user.email,
            &[
                ("username", username.as_str()),
                ("sessions_note", sessions_note),
            ],
        );
        let mut args: Vec<DatumWithOid<'_>> = Vec::with_capacity(1 + EMAIL_ARGS + WAKE_ARGS);
        args.push(stored_identifier.as_str().into());
        args.extend(alert.args());
        let statement = match wake_args() {
            Some(wake) => {
                args.extend(wake);
                &CONSUME_ALERT_AND_WAKE
            }
            None => &CONSUME_AND_ALERT,
        };
        execute(client, statement, &args);
        user.id
    })
}
