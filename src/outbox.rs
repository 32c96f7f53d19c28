//! Queues an email in `auth.email_outbox`, inside the caller's transaction,
//! and wakes the external sender with a NOTIFY that PostgreSQL delivers only
//! if that transaction commits.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;

use crate::plans::{execute, Statement};
use crate::templates::{one_line, render, Variables};

/// A row of `auth.email_templates` with the stored template variables.
pub struct Template {
    pub name: &'static str,
    pub subject: String,
    pub body: String,
    pub sender: String,
    pub variables: Vec<(String, String)>,
}

const LOAD_TEMPLATE: Statement = Statement {
    sql: "SELECT t.subject, t.body, t.sender,
                 (SELECT pg_catalog.jsonb_object_agg(v.name, v.value) FROM auth.template_variables v)
            FROM auth.email_templates t WHERE t.name = $1",
    args: &[PgBuiltInOids::TEXTOID],
};

const ENQUEUE: Statement = Statement {
    sql: "INSERT INTO auth.email_outbox (kind, recipient, sender, subject, body)
          VALUES ($1, $2, $3, $4, $5) RETURNING id",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
    ],
};

const NOTIFY: Statement = Statement {
    sql: "SELECT pg_catalog.pg_notify($1, $2)",
    args: &[PgBuiltInOids::TEXTOID, PgBuiltInOids::TEXTOID],
};

pub fn load_template(client: &mut SpiClient<'_>, name: &'static str) -> Template {
    let table = execute(client, &LOAD_TEMPLATE, &[name.into()]);
    let Some(row) = table.into_iter().next() else {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("email template \"{name}\" does not exist in auth.email_templates")
        );
    };
    let text = |ordinal| row.get::<String>(ordinal).ok().flatten().unwrap_or_default();
    let variables = match row.get::<JsonB>(4).ok().flatten() {
        Some(JsonB(serde_json::Value::Object(map))) => map
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        _ => Vec::new(),
    };
    Template {
        name,
        subject: text(1),
        body: text(2),
        sender: text(3),
        variables,
    }
}

/// Renders `template` for `recipient`, queues it and wakes the sender.
/// Returns the outbox row id.
pub fn enqueue(
    client: &mut SpiClient<'_>,
    template: &Template,
    recipient: &str,
    builtins: &[(&str, &str)],
) -> i64 {
    // The sender is itself a template (e.g. `${app_name} <${support}>`),
    // rendered first so the subject and body can use it as `${sender}`.
    let mut all = vec![("email", recipient)];
    all.extend_from_slice(builtins);
    let sender = one_line(&render(&template.sender, &Variables::new(&template.variables, &all)));
    all.push(("sender", sender.as_str()));
    let variables = Variables::new(&template.variables, &all);
    let subject = one_line(&render(&template.subject, &variables));
    let body = render(&template.body, &variables);

    let table = execute(
        client,
        &ENQUEUE,
        &[
            template.name.into(),
            recipient.into(),
            sender.as_str().into(),
            subject.into(),
            body.into(),
        ],
    );
    let id = table
        .first()
        .get_one::<i64>()
        .ok()
        .flatten()
        .expect("INSERT ... RETURNING id returns the id");
    wake(client, id);
    id
}

/// NOTIFY on the configured channel with the outbox id as payload.
fn wake(client: &mut SpiClient<'_>, outbox_id: i64) {
    let channel = crate::settings::notify_channel();
    execute(client, &NOTIFY, &[channel.into(), outbox_id.to_string().into()]);
}
