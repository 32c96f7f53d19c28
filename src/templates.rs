//! Email templates: loading them from `nile_reset.email_templates` (the
//! user's locale, with fallbacks), and `${name}` rendering, as Nile does it,
//! but in a single pass: substituted values are never scanned again, so a
//! user's name cannot smuggle `${api_url}` (or anything else) into an email.
//! In an HTML body every value is HTML-escaped; values that come from the
//! user's row are cleaned first (see `user_value`).

use std::borrow::Cow;
use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;

use crate::spi::{first_row, not_null, query, Statement};

/// A row of `nile_reset.email_templates` with the stored template variables.
pub struct Template {
    pub name: &'static str,
    pub subject: String,
    pub body: String,
    pub html_body: Option<String>,
    pub sender: String,
    pub variables: Vec<(String, String)>,
}

/// The best row for the user's locale ($2, may be NULL): that locale, else
/// its language (`pt-BR` -> `pt`), else the default locale ($3) or its
/// language, else any; within a locale the administrator's row before the
/// shipped default. Locales compare case-insensitively, `_` as `-`.
const LOAD_TEMPLATE: Statement = Statement {
    sql: "WITH wanted AS (
              SELECT pg_catalog.lower(pg_catalog.replace($2, '_', '-')) AS user_locale,
                     pg_catalog.lower(pg_catalog.replace($3, '_', '-')) AS default_locale)
          SELECT t.subject, t.body, t.html_body, t.sender,
                 (SELECT pg_catalog.jsonb_object_agg(v.name, v.value)
                    FROM nile_reset.template_variables v) AS variables
            FROM nile_reset.email_templates t, wanted w
           WHERE t.name = $1
           ORDER BY CASE pg_catalog.lower(t.locale)
                      WHEN w.user_locale THEN 0
                      WHEN pg_catalog.split_part(w.user_locale, '-', 1) THEN 1
                      WHEN w.default_locale THEN 2
                      WHEN pg_catalog.split_part(w.default_locale, '-', 1) THEN 3
                      ELSE 4 END,
                    t.is_default, t.locale
           LIMIT 1",
    args: &[
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
        PgBuiltInOids::TEXTOID,
    ],
};

/// A template's cache key: its name, the user's locale, the default locale.
type TemplateKey = (&'static str, Option<String>, String);

thread_local! {
    static LOADED: crate::cache::Map<TemplateKey, Rc<Template>> = crate::cache::Map::new();
}

/// Template `name` in the best locale for `locale` (the user's, if the
/// directory has a locale column), from the backend's cache (src/cache.rs)
/// while neither the templates nor the variables have changed.
pub fn load_template(
    client: &SpiClient<'_>,
    name: &'static str,
    locale: Option<&str>,
) -> Rc<Template> {
    let default_locale = crate::settings::default_locale();
    let key = (name, locale.map(str::to_owned), default_locale);
    LOADED.with(|loaded| {
        loaded.get(&key, || {
            crate::cache::watch_own_table(c"email_templates");
            crate::cache::watch_own_table(c"template_variables");
            Rc::new(read_template(client, name, locale, &key.2))
        })
    })
}

fn read_template(
    client: &SpiClient<'_>,
    name: &'static str,
    locale: Option<&str>,
    default_locale: &str,
) -> Template {
    let args = [name.into(), locale.into(), default_locale.into()];
    let Some(row) = first_row(query(client, &LOAD_TEMPLATE, &args)) else {
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
        html_body: crate::spi::column::<String>(&row, "html_body"),
        sender: text("sender"),
        variables,
    }
}

/// The values a template can use: `nile_reset.template_variables` rows, overridden
/// by the built-ins (`username`, `email`, `sender`, `api_url`,
/// `sessions_note`) so that a stored variable cannot replace the link.
pub struct Variables<'a> {
    /// Stored variables, then the built-ins: the last of a name wins. A
    /// template has a handful of names, so a scan beats hashing them.
    values: Vec<(&'a str, &'a str)>,
}

impl<'a> Variables<'a> {
    pub fn new(stored: &'a [(String, String)], builtins: &[(&'a str, &'a str)]) -> Self {
        let mut values = Vec::with_capacity(stored.len() + builtins.len());
        values.extend(stored.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        values.extend_from_slice(builtins);
        Variables { values }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.values
            .iter()
            .rev()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
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
    render_with(template, variables, Cow::Borrowed)
}

/// `render` for an HTML body: every substituted value is HTML-escaped
/// (the template's own markup is the administrator's and stays).
pub fn render_html(template: &str, variables: &Variables) -> String {
    render_with(template, variables, |value| {
        html_escape::encode_quoted_attribute(value)
    })
}

fn render_with<'v>(
    template: &str,
    variables: &Variables<'v>,
    escape: impl Fn(&'v str) -> Cow<'v, str>,
) -> String {
    let mut out = String::with_capacity(template.len() + 128);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_name(&after[..end]) => {
                let name = &after[..end];
                match variables.get(name) {
                    Some(value) => out.push_str(&escape(value)),
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

/// The longest value, in characters, taken from a user's row (their name).
pub const MAX_USER_VALUE_CHARS: usize = 200;

/// A value from the user's row, made harmless for any email: control
/// characters (CR/LF above all: no fake header lines), format characters
/// (bidi overrides and isolates U+202A-U+202E, U+2066-U+2069, zero-width
/// characters, ...) and line/paragraph separators are removed, and the rest
/// is cut to `MAX_USER_VALUE_CHARS` characters.
pub fn user_value(value: &str) -> String {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    // Printable ASCII (U+0020-U+007E) has none of those categories, and there
    // every byte is one character: most names and emails stop here, without
    // a category lookup per character.
    if value.len() <= MAX_USER_VALUE_CHARS && value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return value.to_owned();
    }
    value
        .chars()
        .filter(|c| {
            !matches!(
                c.general_category(),
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
            )
        })
        .take(MAX_USER_VALUE_CHARS)
        .collect()
}

/// `${sessions_note}` of the `password_alert` email: a sentence saying the
/// user's sessions were ended when the reset ended them (Nile's sessions,
/// or the application's `on_password_reset` function ran), else nothing, so
/// that the email never claims what did not happen.
pub fn sessions_note(ended: bool) -> &'static str {
    if ended {
        " Every session was signed out."
    } else {
        ""
    }
}

/// How an email greets the user: their name, made harmless by
/// `user_value`, or their email when the name is missing or blank (a
/// Django user with an empty first_name is not greeted "Hello ,").
pub fn username_for(name: Option<&str>, email: &str) -> String {
    let name = user_value(name.unwrap_or(""));
    if name.trim().is_empty() {
        user_value(email)
    } else {
        name
    }
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
    fn html_values_are_escaped_once_and_markup_kept() {
        let stored = stored(&[]);
        let vars = Variables::new(
            &stored,
            &[
                ("username", "<b>\"Tom\" & 'Jerry'</b> ${api_url}"),
                ("api_url", "L"),
            ],
        );
        assert_eq!(
            render_html("<p>${username}</p>", &vars),
            "<p>&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt; ${api_url}</p>"
        );
    }

    #[test]
    fn user_values_lose_controls_and_bidi_and_are_capped() {
        assert_eq!(
            user_value("Jane\r\nBcc: x@y\u{202E}gpj.exe\u{2066}\u{200B}\u{2028}!"),
            "JaneBcc: x@ygpj.exe!"
        );
        assert_eq!(user_value("Zoë Σ").as_str(), "Zoë Σ");
        assert_eq!(
            user_value("Jane Doe <jane@example.com>"),
            "Jane Doe <jane@example.com>"
        );
        assert_eq!(user_value("tab\tand\x7fdel"), "tabanddel");
        assert_eq!(
            user_value(&"a".repeat(MAX_USER_VALUE_CHARS + 1)),
            "a".repeat(MAX_USER_VALUE_CHARS)
        );
        assert_eq!(
            user_value(&"é".repeat(10_000)).chars().count(),
            MAX_USER_VALUE_CHARS
        );
    }

    #[test]
    fn the_sessions_note_is_said_only_when_sessions_ended() {
        let stored = stored(&[]);
        let alert = "was just changed.${sessions_note}\n";
        let ended = Variables::new(&stored, &[("sessions_note", sessions_note(true))]);
        let kept = Variables::new(&stored, &[("sessions_note", sessions_note(false))]);
        assert_eq!(
            render(alert, &ended),
            "was just changed. Every session was signed out.\n"
        );
        assert_eq!(render(alert, &kept), "was just changed.\n");
    }

    #[test]
    fn one_line_removes_line_breaks() {
        assert_eq!(one_line("Hi\r\nBcc: x@y\t!"), "Hi  Bcc: x@y !");
    }

    #[test]
    fn a_missing_or_blank_name_greets_by_email() {
        assert_eq!(username_for(Some("Jane"), "jane@example.com"), "Jane");
        assert_eq!(username_for(None, "jane@example.com"), "jane@example.com");
        assert_eq!(
            username_for(Some(""), "jane@example.com"),
            "jane@example.com"
        );
        assert_eq!(
            username_for(Some(" \t "), "jane@example.com"),
            "jane@example.com"
        );
        // Only format characters: nothing left to show once made harmless.
        assert_eq!(
            username_for(Some("\u{202E}\u{200B}"), "jane@example.com"),
            "jane@example.com"
        );
    }
}
