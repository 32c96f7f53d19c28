//! `auth.generate_password_token` and its trusted sibling
//! `auth.generate_password_link`: Nile's reset-password request, in the
//! caller's transaction.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::{internal_error, or_raise, required, ArgError};
use crate::links::{check_email, origin_of, parse_http_url, reset_link};
use crate::outbox::{enqueue, load_template};
use crate::plans::{execute, Statement};
use crate::settings::{MIN_RESEND_INTERVAL_SECONDS, TOKEN_TTL_SECONDS};
use crate::token;

/// The user (if any, live, matched case-insensitively) and whether each
/// URL's origin is trusted, in one round trip.
const LOOKUP: Statement = Statement {
    sql: "SELECT u.email, u.name,
                 EXISTS (SELECT 1 FROM auth.trusted_origins o WHERE o.origin = $2),
                 EXISTS (SELECT 1 FROM auth.trusted_origins o WHERE o.origin = $3)
            FROM (SELECT 1) AS one
            LEFT JOIN users.users u ON pg_catalog.lower(u.email) = pg_catalog.lower($1)
                                   AND u.deleted IS NULL",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
    ],
};

/// Replaces the identifier's token unless one was issued inside the resend
/// interval; returns the new expiry, or no row when nothing may happen.
/// Two sessions racing for one identifier serialize on its primary key.
const ISSUE: Statement = Statement {
    sql: "INSERT INTO auth.verification_tokens AS t (identifier, token, expires, created, failed_attempts)
          VALUES (pg_catalog.lower($1), $2, now() + $3 * interval '1 second', now(), 0)
          ON CONFLICT (identifier) DO UPDATE
             SET token = excluded.token, expires = excluded.expires,
                 created = excluded.created, failed_attempts = 0
           WHERE t.created <= now() - $4 * interval '1 second'
          RETURNING t.identifier, t.expires",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::INT4OID,
        PgBuiltInOids::INT4OID,
    ],
};

/// What a request produced.
struct Issued {
    expires: TimestampWithTimeZone,
    link: String,
    email: String,
    username: String,
}

/// Validates the arguments, then issues a token if the user exists and the
/// resend interval allows it. Every rule that can fail raises before anything
/// is written.
fn issue(
    client: &mut SpiClient<'_>,
    email: Option<&str>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> Option<Issued> {
    let email = required(email, "email");
    let callback_raw = required(callback_url, "callback_url");
    let redirect_raw = required(redirect_url, "redirect_url");
    or_raise(check_email(email));
    let callback = or_raise(parse_http_url("callback_url", callback_raw));
    let redirect = or_raise(parse_http_url("redirect_url", redirect_raw));

    let found = execute(
        client,
        &LOOKUP,
        &[
            email.into(),
            origin_of(&callback).into(),
            origin_of(&redirect).into(),
        ],
    );
    let row = found.first();
    let (callback_trusted, redirect_trusted) = (
        row.get::<bool>(3).ok().flatten().unwrap_or(false),
        row.get::<bool>(4).ok().flatten().unwrap_or(false),
    );
    for (trusted, name) in [
        (callback_trusted, "callback_url"),
        (redirect_trusted, "redirect_url"),
    ] {
        if !trusted {
            ArgError::Invalid(format!("{name} origin is not in auth.trusted_origins")).raise();
        }
    }
    let user_email: String = row.get(1).ok().flatten()?;
    let username: Option<String> = row.get(2).ok().flatten();

    let secret = token::generate()
        .unwrap_or_else(|_| internal_error("the operating system random number generator failed"));
    let issued = execute(
        client,
        &ISSUE,
        &[
            user_email.as_str().into(),
            token::digest(&secret).into(),
            TOKEN_TTL_SECONDS.get().into(),
            MIN_RESEND_INTERVAL_SECONDS.get().into(),
        ],
    );
    let row = issued.first();
    let identifier: String = row.get(1).ok().flatten()?;
    let expires: TimestampWithTimeZone = row.get(2).ok().flatten()?;
    Some(Issued {
        expires,
        link: reset_link(&redirect, &secret, &identifier, callback.as_str()),
        username: username.unwrap_or_else(|| user_email.clone()),
        email: user_email,
    })
}

/// Creates a reset token for `email` and queues the `password_reset` email.
/// `created` is false, and nothing was written, when the email belongs to no
/// live user or a token was issued within `nile_reset.min_resend_interval`:
/// the two cases look the same on purpose.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn generate_password_token(
    email: Option<&str>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(created, bool),
        name!(expires, Option<TimestampWithTimeZone>),
        name!(outbox_id, Option<i64>),
    ),
> {
    let row = Spi::connect_mut(|client| {
        let issued = issue(client, email, callback_url, redirect_url)?;
        let template = load_template(client, "password_reset");
        let outbox_id = enqueue(
            client,
            &template,
            &issued.email,
            &[
                ("username", issued.username.as_str()),
                ("api_url", issued.link.as_str()),
            ],
        );
        Some((issued.expires, outbox_id))
    });
    TableIterator::once(match row {
        Some((expires, outbox_id)) => (true, Some(expires), Some(outbox_id)),
        None => (false, None, None),
    })
}

/// Like `generate_password_token`, but returns the link instead of emailing
/// it (Nile's `json=true`). It hands out a credential for any account, so it
/// is for trusted callers only: grant it separately.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn generate_password_link(
    email: Option<&str>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(created, bool),
        name!(expires, Option<TimestampWithTimeZone>),
        name!(link, Option<String>),
    ),
> {
    let issued = Spi::connect_mut(|client| issue(client, email, callback_url, redirect_url));
    TableIterator::once(match issued {
        Some(issued) => (true, Some(issued.expires), Some(issued.link)),
        None => (false, None, None),
    })
}
