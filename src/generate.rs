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
use std::collections::HashMap;

use crate::outbox::{enqueue, wake};
use crate::settings::{MIN_RESEND_INTERVAL_SECONDS, TOKEN_TTL_SECONDS};
use crate::spi::{execute, first_row, not_null, query, Statement};
use crate::templates::{load_template, Template};
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
                 (identifier, user_id, token, expires, created)
          VALUES ($1, $5, $2, now() + $3 * interval '1 second', now())
          ON CONFLICT (identifier) DO UPDATE
             SET user_id = excluded.user_id, token = excluded.token, expires = excluded.expires,
                 created = excluded.created
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

/// Whether the user got a token inside the resend interval: a plain read,
/// so a request that will do nothing neither locks nor writes the row.
const RECENT: Statement = Statement {
    sql: "SELECT EXISTS (SELECT 1 FROM nile_reset.verification_tokens t
                          WHERE t.identifier = $1 AND t.user_id = $2
                            AND t.created > now() - $3 * interval '1 second') AS recent",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::INT4OID,
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

/// The request's URLs, checked and trusted.
struct Urls {
    callback: url::Url,
    redirect: url::Url,
}

/// Validates both URLs and checks that their origins are trusted.
fn trusted_urls(
    client: &mut SpiClient<'_>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> Urls {
    let callback_raw = required(callback_url, "callback_url");
    let redirect_raw = required(redirect_url, "redirect_url");
    let callback = or_raise(parse_http_url("callback_url", callback_raw));
    let redirect = or_raise(parse_http_url("redirect_url", redirect_raw));

    let trusted = first_row(query(
        client,
        &TRUSTED,
        &[origin_of(&callback).into(), origin_of(&redirect).into()],
    ))
    .unwrap_or_else(|| internal_error("SELECT without FROM returned no row"));
    for name in ["callback", "redirect"] {
        if !not_null::<bool>(&trusted, name) {
            // A Citus worker has no origins at all: say that instead.
            crate::citus::refuse_on_worker(client);
            ArgError::Invalid(format!(
                "{name}_url origin is not in nile_reset.trusted_origins"
            ))
            .raise();
        }
    }
    Urls { callback, redirect }
}

/// Validates the arguments, then issues a token if the user exists and the
/// resend interval allows it. Every rule that can fail raises before anything
/// is written.
fn issue(
    client: &mut SpiClient<'_>,
    email: Option<&str>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
    resend_interval_seconds: i32,
) -> Option<Issued> {
    let email = required(email, "email");
    or_raise(check_email(email));
    // No directory (55000) is said before anything about the URLs: an
    // unconfigured database would otherwise report an untrusted origin.
    let directory = directory::load(client);
    let urls = trusted_urls(client, callback_url, redirect_url);
    issue_for(client, &directory, &urls, email, resend_interval_seconds)
}

/// Issues a token for a checked `email` if it belongs to one live user and
/// the resend interval allows it.
///
/// Timing: up to the decision, an unknown email and a known one inside the
/// resend interval run the same statements -- normalize, the user lookup, a
/// token drawn and hashed, and the plain (unlocking, unwriting) resend
/// check, with an id that matches nothing for an unknown email -- and then
/// both stop, so neither the row lock nor a write tells them apart. Only an
/// email that gets a token does more (write, render, queue); the HTTP
/// layer's latency floor covers that difference.
fn issue_for(
    client: &mut SpiClient<'_>,
    directory: &directory::Directory,
    urls: &Urls,
    email: &str,
    resend_interval_seconds: i32,
) -> Option<Issued> {
    let identifier = crate::email::normalize(client, email);
    let user = directory.find_by_email(client, &identifier);
    let secret = token::generate()
        .unwrap_or_else(|_| internal_error("the operating system random number generator failed"));
    let digest = token::digest(&secret);
    let user_id = user.as_ref().map_or("", |u| u.id.as_str());
    let recent = first_row(query(
        client,
        &RECENT,
        &[
            identifier.as_str().into(),
            user_id.into(),
            resend_interval_seconds.into(),
        ],
    ))
    .is_some_and(|row| not_null::<bool>(&row, "recent"));
    let user = user?;
    if recent {
        return None;
    }
    let issued = execute(
        client,
        &ISSUE,
        &[
            identifier.as_str().into(),
            digest.into(),
            TOKEN_TTL_SECONDS.get().into(),
            resend_interval_seconds.into(),
            user.id.as_str().into(),
        ],
    );
    // No row: a token was issued inside the resend interval.
    let row = first_row(issued)?;
    let identifier: String = not_null(&row, "identifier");
    let expires: TimestampWithTimeZone = not_null(&row, "expires");
    Some(Issued {
        expires,
        link: reset_link(&urls.redirect, &secret, &identifier, urls.callback.as_str()),
        username: crate::templates::username_for(user.name.as_deref(), &user.email),
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
        let issued = issue(
            client,
            email,
            callback_url,
            redirect_url,
            MIN_RESEND_INTERVAL_SECONDS.get(),
        )?;
        let template = load_template(client, "password_reset", issued.locale.as_deref());
        let outbox_id = queue_reset_email(client, &template, &issued);
        wake(client, outbox_id);
        Some((issued.expires, outbox_id))
    });
    TableIterator::once(match row {
        Some((expires, outbox_id)) => (true, Some(expires), Some(outbox_id)),
        None => (false, None, None),
    })
}

fn queue_reset_email(client: &mut SpiClient<'_>, template: &Template, issued: &Issued) -> i64 {
    enqueue(
        client,
        template,
        &issued.email,
        &[
            ("username", issued.username.as_str()),
            ("api_url", issued.link.as_str()),
        ],
        Some(issued.expires),
    )
}

/// `generate_password_token` for many emails in one statement, e.g. every
/// account of a breach: the same rules for each email, one row per input
/// element in input order (`created` false for an unknown email, one inside
/// the resend interval, or a repeat). A NULL, empty or malformed element
/// raises, as the single call does, and nothing is queued. The URLs, the
/// directory and each locale's template are read once, and the sender is
/// woken once, after the last email (the NOTIFY carries the last outbox id).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn generate_password_tokens(
    emails: Option<Vec<Option<String>>>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> TableIterator<'static, (name!(email, String), name!(created, bool))> {
    let emails = required(emails, "emails");
    let checked: Vec<String> = emails
        .into_iter()
        .enumerate()
        .map(|(index, email)| {
            let email = required(email, &format!("emails[{}]", index + 1));
            if let Err(error) = check_email(&email) {
                error.at(&format!("emails[{}]", index + 1)).raise();
            }
            email
        })
        .collect();
    let rows = Spi::connect_mut(|client| {
        let directory = directory::load(client);
        let urls = trusted_urls(client, callback_url, redirect_url);
        let mut templates: HashMap<Option<String>, Template> = HashMap::new();
        let mut last_id = None;
        let rows: Vec<(String, bool)> = checked
            .into_iter()
            .map(|email| {
                let Some(issued) = issue_for(
                    client,
                    &directory,
                    &urls,
                    &email,
                    MIN_RESEND_INTERVAL_SECONDS.get(),
                ) else {
                    return (email, false);
                };
                let template = templates.entry(issued.locale.clone()).or_insert_with(|| {
                    load_template(client, "password_reset", issued.locale.as_deref())
                });
                last_id = Some(queue_reset_email(client, template, &issued));
                (email, true)
            })
            .collect();
        if let Some(id) = last_id {
            wake(client, id);
        }
        rows
    });
    TableIterator::new(rows)
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
    // No resend interval: the caller sends no email, so there is nothing to
    // flood, and Nile's SDK asks for a fresh link on every resetPassword().
    let issued = Spi::connect_mut(|client| issue(client, email, callback_url, redirect_url, 0));
    TableIterator::once(match issued {
        Some(issued) => (true, Some(issued.expires), Some(issued.link)),
        None => (false, None, None),
    })
}
