//! `auth.generate_password_token` and its trusted sibling
//! `auth.generate_password_link`: Nile's reset-password request, in the
//! caller's transaction.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::directory;
use crate::email::check_email;
use crate::error::{internal_error, or_raise, required, ArgError};
use crate::links::{origin_of, parse_http_url, reset_link};
use crate::outbox::enqueue;
use crate::settings::{MIN_RESEND_INTERVAL_SECONDS, TOKEN_TTL_SECONDS};
use crate::spi::{execute, first_row, not_null, Statement};
use crate::templates::load_template;
use crate::token;

/// Whether each URL's origin is trusted, in one round trip.
const TRUSTED: Statement = Statement {
    sql: "SELECT EXISTS (SELECT 1 FROM nile_reset.trusted_origins o WHERE o.origin = $1) AS callback,
                 EXISTS (SELECT 1 FROM nile_reset.trusted_origins o WHERE o.origin = $2) AS redirect",
    args: &[PgBuiltInOids::TEXTOID, PgBuiltInOids::TEXTOID],
};

/// Replaces the identifier's token unless one was issued to the same user
/// inside the resend interval; returns the new expiry, or no row when nothing may happen.
/// Two sessions racing for one identifier serialize on its primary key.
const ISSUE: Statement = Statement {
    sql: "INSERT INTO nile_reset.verification_tokens AS t
                 (identifier, user_id, token, expires, created, failed_attempts)
          VALUES (pg_catalog.lower($1), $5, $2, now() + $3 * interval '1 second', now(), 0)
          ON CONFLICT (identifier) DO UPDATE
             SET user_id = excluded.user_id, token = excluded.token, expires = excluded.expires,
                 created = excluded.created, failed_attempts = 0
           WHERE t.created <= now() - $4 * interval '1 second' OR t.user_id <> excluded.user_id
          RETURNING t.identifier, t.expires",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::INT4OID,
        PgBuiltInOids::INT4OID,
        PgBuiltInOids::TEXTOID,
    ],
};

/// What a request produced.
struct Issued {
    expires: TimestampWithTimeZone,
    link: String,
    email: String,
    username: String,
    locale: Option<String>,
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

    let trusted = first_row(execute(
        client,
        &TRUSTED,
        &[origin_of(&callback).into(), origin_of(&redirect).into()],
    ))
    .unwrap_or_else(|| internal_error("SELECT without FROM returned no row"));
    for name in ["callback", "redirect"] {
        if !not_null::<bool>(&trusted, name) {
            ArgError::Invalid(format!(
                "{name}_url origin is not in nile_reset.trusted_origins"
            ))
            .raise();
        }
    }
    let directory = directory::load(client);
    let user = directory.find_by_email(client, email)?;

    let secret = token::generate()
        .unwrap_or_else(|_| internal_error("the operating system random number generator failed"));
    let issued = execute(
        client,
        &ISSUE,
        &[
            user.email.as_str().into(),
            token::digest(&secret).into(),
            TOKEN_TTL_SECONDS.get().into(),
            MIN_RESEND_INTERVAL_SECONDS.get().into(),
            user.id.as_str().into(),
        ],
    );
    // No row: a token was issued inside the resend interval.
    let row = first_row(issued)?;
    let identifier: String = not_null(&row, "identifier");
    let expires: TimestampWithTimeZone = not_null(&row, "expires");
    Some(Issued {
        expires,
        link: reset_link(&redirect, &secret, &identifier, callback.as_str()),
        username: crate::templates::user_value(user.name.as_deref().unwrap_or(&user.email)),
        email: user.email,
        locale: user.locale,
    })
}

/// Creates a reset token for `email` and queues the `password_reset` email.
/// `created` is false, and nothing was written, when the email belongs to no
/// live user (or to several), or a token was issued within `nile_reset.min_resend_interval`:
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
        let template = load_template(client, "password_reset", issued.locale.as_deref());
        let outbox_id = enqueue(
            client,
            &template,
            &issued.email,
            &[
                ("username", issued.username.as_str()),
                ("api_url", issued.link.as_str()),
            ],
            Some(issued.expires),
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
