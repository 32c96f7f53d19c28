//! Email templates: loading them from `nile_reset.email_templates`, and
//! `${name}` rendering, as Nile does it, but in a
//! single pass: substituted values are never scanned again, so a user's name
//! cannot smuggle `${api_url}` (or anything else) into an email.

use std::collections::HashMap;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;

use crate::spi::{execute, first_row, not_null, Statement};

/// A row of `nile_reset.email_templates` with the stored template variables.
pub struct Template {
    pub name: &'static str,
    pub subject: String,
    pub body: String,
    pub sender: String,
    pub variables: Vec<(String, String)>,
}

const LOAD_TEMPLATE: Statement = Statement {
    sql: "SELECT t.subject, t.body, t.sender,
                 (SELECT pg_catalog.jsonb_object_agg(v.name, v.value)
                    FROM nile_reset.template_variables v) AS variables
            FROM nile_reset.email_templates t WHERE t.name = $1
           ORDER BY t.is_default LIMIT 1",
    args: &[PgBuiltInOids::TEXTOID],
};

pub fn load_template(client: &mut SpiClient<'_>, name: &'static str) -> Template {
    let Some(row) = first_row(execute(client, &LOAD_TEMPLATE, &[name.into()])) else {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("email template \"{name}\" does not exist in nile_reset.email_templates")
        );
    };
    let text = |column: &str| not_null::<String>(&row, column);
    let variables = match crate::spi::column::<JsonB>(&row, "variables") {
        Some(JsonB(serde_json::Value::Object(map))) => map
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        _ => Vec::new(),
    };
    Template {
        name,
        subject: text("subject"),
        body: text("body"),
        sender: text("sender"),
        variables,
    }
}

/// The values a template can use: `nile_reset.template_variables` rows, overridden
/// by the built-ins (`username`, `email`, `sender`, `api_url`) so that a
/// stored variable cannot replace the link.
pub struct Variables<'a> {
    values: HashMap<&'a str, &'a str>,
}

impl<'a> Variables<'a> {
    pub fn new(stored: &'a [(String, String)], builtins: &[(&'a str, &'a str)]) -> Self {
        let mut values: HashMap<&str, &str> = stored
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        values.extend(builtins.iter().copied());
        Variables { values }
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces each `${name}` whose name is known; unknown ones stay as written.
pub fn render(template: &str, variables: &Variables) -> String {
    let mut out = String::with_capacity(template.len() + 128);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_name(&after[..end]) => {
                let name = &after[..end];
                match variables.values.get(name) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A header value (subject, sender) on one line: control characters, CR and
/// LF above all, become spaces.
pub fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_known_names_and_keeps_unknown_ones() {
        let stored = stored(&[("app", "Acme")]);
        let vars = Variables::new(&stored, &[("username", "Jane")]);
        assert_eq!(
            render(
                "Hi ${username}, ${app} says ${nope} and ${bad name} $x ${",
                &vars
            ),
            "Hi Jane, Acme says ${nope} and ${bad name} $x ${"
        );
    }

    #[test]
    fn builtins_win_over_stored_variables() {
        let stored = stored(&[("api_url", "https://evil.example")]);
        let vars = Variables::new(&stored, &[("api_url", "https://good.example/r")]);
        assert_eq!(render("${api_url}", &vars), "https://good.example/r");
    }

    #[test]
    fn values_are_not_rendered_again() {
        let stored = stored(&[]);
        let vars = Variables::new(&stored, &[("username", "${api_url}"), ("api_url", "L")]);
        assert_eq!(render("${username} ${api_url}", &vars), "${api_url} L");
    }

    #[test]
    fn multibyte_text_survives() {
        let stored = stored(&[]);
        let vars = Variables::new(&stored, &[("username", "Zoë")]);
        assert_eq!(render("Grüße ${username} ✓", &vars), "Grüße Zoë ✓");
    }

    #[test]
    fn one_line_removes_line_breaks() {
        assert_eq!(one_line("Hi\r\nBcc: x@y\t!"), "Hi  Bcc: x@y !");
    }
}
