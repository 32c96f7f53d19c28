//! Every place a test reads or writes the extension's tables directly (rather than through its
//! functions). When the extension moves a table, this file is the one to adapt.

use std::time::Duration;

use tokio_postgres::Client;

use super::wait_for;

/// Queued emails (id, kind, recipient, sender, subject, body, attempts, created, sent_at,
/// dead_at, claimed_by, claimed_until, last_error).
pub const OUTBOX: &str = "nile_reset.email_outbox";
/// Email templates (name, subject, body).
pub const TEMPLATES: &str = "nile_reset.email_templates";
/// Values templates may use (name, value).
pub const TEMPLATE_VARIABLES: &str = "nile_reset.template_variables";
/// Reset tokens (identifier, expires, ...).
pub const TOKENS: &str = "nile_reset.verification_tokens";
/// Password hashes (user_id, payload->>'hash').
pub const CREDENTIALS: &str = "auth.credentials";
/// The user directory (id, email, name).
pub const USERS: &str = "users.users";

/// Adds a user; `email` is stored as given (mixed case included).
pub async fn add_user(db: &Client, email: &str, name: Option<&str>) {
    db.execute(
        &format!("INSERT INTO {USERS} (email, name) VALUES ($1, $2)"),
        &[&email, &name],
    )
    .await
    .unwrap();
}

/// Adds users `user1@example.com` ... `user<count>@example.com`, named `User <n>`.
pub async fn add_numbered_users(db: &Client, count: i32) {
    db.execute(
        &format!(
            "INSERT INTO {USERS} (email, name)
             SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, $1::integer) AS n"
        ),
        &[&count],
    )
    .await
    .unwrap();
}

/// Queues `count` emails directly, recipients `{prefix}{n}@example.com` for
/// n in 1..=count, each body naming its recipient.
pub async fn queue_emails(db: &Client, prefix: &str, count: i32) {
    db.execute(
        &format!(
            "INSERT INTO {OUTBOX} (kind, recipient, sender, subject, body)
             SELECT 'password_reset', $1::text || n || '@example.com', 'Support <support@example.com>',
                    'Reset your password', 'Hello ' || $1::text || n || E',\\nopen http://localhost:3000/reset?token=t' || n || E'\\n'
             FROM generate_series(1, $2::integer) AS n"
        ),
        &[&prefix, &count],
    )
    .await
    .unwrap();
}

/// Queues one email with the given fields, returning its outbox id.
pub async fn queue_email(
    db: &Client,
    recipient: &str,
    sender: &str,
    subject: &str,
    body: &str,
) -> i64 {
    db.query_one(
        &format!(
            "INSERT INTO {OUTBOX} (kind, recipient, sender, subject, body)
             VALUES ('password_reset', $1, $2, $3, $4) RETURNING id"
        ),
        &[&recipient, &sender, &subject, &body],
    )
    .await
    .unwrap()
    .get(0)
}

/// How many outbox rows meet `condition` (SQL over the outbox's columns).
pub async fn count(db: &Client, condition: &str) -> i64 {
    db.query_one(
        &format!("SELECT count(*) FROM {OUTBOX} WHERE {condition}"),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// Waits until every outbox row is sent or dead.
pub async fn wait_drained(db: &Client, timeout: Duration) {
    wait_for(timeout, "the outbox to drain", || async {
        (count(db, "sent_at IS NULL AND dead_at IS NULL").await == 0).then_some(())
    })
    .await;
}
