//! Queues an email in `nile_reset.email_outbox`, inside the caller's transaction,
//! and wakes the external sender with a NOTIFY that PostgreSQL delivers only
//! if that transaction commits.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use sha2::{Digest, Sha256};

use crate::spi::{execute, first_row, not_null, Statement};
use crate::templates::{one_line, render, render_html, Template, Variables};

const ENQUEUE: Statement = Statement {
    sql: "INSERT INTO nile_reset.email_outbox
                 (kind, recipient, sender, subject, body, html_body, link_expires)
          VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TIMESTAMPTZOID,
    ],
};

/// NOTIFY unless a coalescing sender is awake and will see the row: see
/// sql/wakeup.sql for the protocol and why it loses nothing. CASE fixes the
/// order: the sleep lock first (shared, held to the end of the transaction,
/// so no sender can fall asleep before this row is visible), then the
/// presence lock (shared, given back at once: only asked about).
const NOTIFY_UNLESS_DRAINING: Statement = Statement {
    sql: "SELECT pg_catalog.pg_notify($1, $2)
           WHERE CASE WHEN NOT pg_catalog.pg_try_advisory_xact_lock_shared($3) THEN true
                      WHEN pg_catalog.pg_try_advisory_lock_shared($4)
                           THEN pg_catalog.pg_advisory_unlock_shared($4)
                      ELSE false END",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::INT8OID,
        PgBuiltInOids::INT8OID,
    ],
};

/// Renders `template` for `recipient` and queues it; the caller then wakes
/// the sender once (`wake`) for all it queued. `link_expires` is the expiry of the link it carries, if any: the sender
/// does not send it after that. Returns the outbox row id.
pub fn enqueue(
    client: &mut SpiClient<'_>,
    template: &Template,
    recipient: &str,
    builtins: &[(&str, &str)],
    link_expires: Option<TimestampWithTimeZone>,
) -> i64 {
    // The sender is itself a template (e.g. `${app_name} <${support}>`),
    // rendered first so the subject and body can use it as `${sender}`.
    let shown_email = crate::templates::user_value(recipient);
    let mut all = vec![("email", shown_email.as_str())];
    all.extend_from_slice(builtins);
    let sender = one_line(&render(
        &template.sender,
        &Variables::new(&template.variables, &all),
    ));
    all.push(("sender", sender.as_str()));
    let variables = Variables::new(&template.variables, &all);
    let subject = one_line(&render(&template.subject, &variables));
    let body = render(&template.body, &variables);
    let html_body = template
        .html_body
        .as_deref()
        .map(|html| render_html(html, &variables));

    let table = execute(
        client,
        &ENQUEUE,
        &[
            template.name.into(),
            recipient.into(),
            sender.as_str().into(),
            subject.into(),
            body.into(),
            html_body.into(),
            link_expires.into(),
        ],
    );
    first_row(table)
        .map(|row| not_null(&row, "id"))
        .unwrap_or_else(|| crate::error::internal_error("INSERT ... RETURNING id returned no row"))
}

/// `NOTIFY channel, '<outbox id>'` on commit, for every listener, unless
/// a coalescing sender is awake. With `nile_reset.wakeups = off` nothing is
/// sent: senders find the row by polling.
pub fn wake(client: &mut SpiClient<'_>, outbox_id: i64) {
    if !crate::settings::WAKEUPS.get() {
        return;
    }
    let channel = crate::settings::notify_channel();
    let sleep = wakeup_lock_key(&channel);
    let presence = presence_lock_key(&channel);
    execute(
        client,
        &NOTIFY_UNLESS_DRAINING,
        &[
            channel.into(),
            outbox_id.to_string().into(),
            sleep.into(),
            presence.into(),
        ],
    );
}

/// The channel's sleep lock key; `nile_reset.wakeup_lock_key` computes the same.
pub fn wakeup_lock_key(channel: &str) -> i64 {
    lock_key("nile_reset wakeup:", channel)
}

/// The channel's presence lock key; `nile_reset.presence_lock_key` computes the same.
pub fn presence_lock_key(channel: &str) -> i64 {
    lock_key("nile_reset sender:", channel)
}

fn lock_key(purpose: &str, channel: &str) -> i64 {
    let digest = Sha256::digest(format!("{purpose}{channel}").as_bytes());
    i64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}
