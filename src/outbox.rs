//! Queues an email in `nile_reset.email_outbox`, inside the caller's transaction,
//! and wakes the external sender with a NOTIFY that PostgreSQL delivers only
//! if that transaction commits.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use sha2::{Digest, Sha256};

use crate::spi::{execute, types, Statement};
use crate::templates::{one_line, render, render_html, Template, Variables};

/// The columns of an outbox row that a rendered email fills, in the order
/// `Email::args` binds them; the new row is `q`, for `wake_expression`.
macro_rules! outbox_columns {
    () => {
        "nile_reset.email_outbox AS q (kind, recipient, sender, subject, body, html_body, link_expires)"
    };
}
pub(crate) use outbox_columns;

/// The wake-up as an expression over the new row `q`: NOTIFY unless a
/// coalescing sender is awake and will see the row (see sql/wakeup.sql for
/// the protocol and why it loses nothing). CASE fixes the order: the sleep
/// lock first (shared, held to the end of the transaction, so no sender can
/// fall asleep before this row is visible), then the presence lock (shared,
/// given back at once: only asked about). A plain expression, not a
/// subquery, so that it can sit in an INSERT's RETURNING list without a
/// plan of its own. The parameters are the channel, the sleep lock key and
/// the presence lock key (`wake_args`).
macro_rules! wake_expression {
    ($channel:literal, $sleep:literal, $presence:literal) => {
        concat!(
            "CASE WHEN CASE WHEN NOT pg_catalog.pg_try_advisory_xact_lock_shared(",
            $sleep,
            ") THEN true
                           WHEN pg_catalog.pg_try_advisory_lock_shared(",
            $presence,
            ")
                                THEN pg_catalog.pg_advisory_unlock_shared(",
            $presence,
            ")
                           ELSE false END
                 THEN pg_catalog.pg_notify(",
            $channel,
            ", q.id::pg_catalog.text) END"
        )
    };
}
pub(crate) use wake_expression;

/// The row id, then `wake_args`.
const WAKE_ROW_TYPES: [PgBuiltInOids; 1 + WAKE_ARGS] = types([PgBuiltInOids::INT8OID], WAKE_TYPES);

/// Wakes the sender for row `$1` on its own (after a batch).
const WAKE: Statement = Statement {
    sql: concat!(
        "SELECT ",
        wake_expression!("$2", "$3", "$4"),
        " FROM (SELECT $1::pg_catalog.int8 AS id) q"
    ),
    args: &WAKE_ROW_TYPES,
};

/// How many parameters `Email::args` binds, and their types.
pub const EMAIL_ARGS: usize = 6;
pub const EMAIL_TYPES: [PgBuiltInOids; EMAIL_ARGS] = [PgBuiltInOids::TEXTOID; EMAIL_ARGS];

/// How many parameters `wake_args` binds, and their types.
pub const WAKE_ARGS: usize = 3;
pub const WAKE_TYPES: [PgBuiltInOids; WAKE_ARGS] = [
    PgBuiltInOids::TEXTOID,
    PgBuiltInOids::INT8OID,
    PgBuiltInOids::INT8OID,
];

/// An email rendered from its template, ready to be queued.
pub struct Email {
    kind: &'static str,
    recipient: String,
    sender: String,
    subject: String,
    body: String,
    html_body: Option<String>,
}

impl Email {
    /// Renders `template` for `recipient`.
    pub fn render(template: &Template, recipient: &str, builtins: &[(&str, &str)]) -> Email {
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
        Email {
            kind: template.name,
            recipient: recipient.to_owned(),
            subject: one_line(&render(&template.subject, &variables)),
            body: render(&template.body, &variables),
            html_body: template
                .html_body
                .as_deref()
                .map(|html| render_html(html, &variables)),
            sender,
        }
    }

    /// kind, recipient, sender, subject, body, html_body: the outbox
    /// columns before `link_expires` (see `outbox_columns`).
    pub fn args(&self) -> [DatumWithOid<'_>; EMAIL_ARGS] {
        [
            self.kind.into(),
            self.recipient.as_str().into(),
            self.sender.as_str().into(),
            self.subject.as_str().into(),
            self.body.as_str().into(),
            self.html_body.as_deref().into(),
        ]
    }
}

/// The wake-up's parameters (channel, sleep lock key, presence lock key),
/// or None with `nile_reset.wakeups = off`: senders then find rows by
/// polling.
pub fn wake_args() -> Option<[DatumWithOid<'static>; WAKE_ARGS]> {
    if !crate::settings::WAKEUPS.get() {
        return None;
    }
    let channel = crate::settings::notify_channel();
    let (sleep, presence) = lock_keys(&channel);
    Some([channel.into(), sleep.into(), presence.into()])
}

thread_local! {
    /// The last channel's lock keys: the channel is a setting that rarely
    /// changes, and its keys are a pure function of it.
    static LAST_KEYS: std::cell::RefCell<Option<(String, i64, i64)>> =
        const { std::cell::RefCell::new(None) };
}

/// The channel's sleep and presence lock keys.
fn lock_keys(channel: &str) -> (i64, i64) {
    LAST_KEYS.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((kept, sleep, presence)) if kept == channel => (*sleep, *presence),
            _ => {
                let keys = (wakeup_lock_key(channel), presence_lock_key(channel));
                *last = Some((channel.to_owned(), keys.0, keys.1));
                keys
            }
        }
    })
}

/// `NOTIFY channel, '<outbox id>'` on commit, for every listener, unless
/// a coalescing sender is awake: for a batch, once after its last row.
pub fn wake(client: &mut SpiClient<'_>, outbox_id: i64) {
    let Some([channel, sleep, presence]) = wake_args() else {
        return;
    };
    execute(client, &WAKE, &[outbox_id.into(), channel, sleep, presence]);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept keys follow the channel: another channel, then the first
    /// again, each gets its own keys.
    #[test]
    fn lock_keys_follow_the_channel() {
        for channel in ["nile_reset_email", "other_channel", "nile_reset_email", "x"] {
            assert_eq!(
                lock_keys(channel),
                (wakeup_lock_key(channel), presence_lock_key(channel)),
                "{channel}"
            );
        }
        assert_ne!(lock_keys("a"), lock_keys("b"));
    }
}
