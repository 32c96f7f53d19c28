//! The database's new-password policy as the form shows it: its minimum length before the user
//! types, and its refusals, in the page's language, next to the field.

use crate::serve::databases::Database;
use crate::serve::error::ApiError;

use super::catalogue::{fill, Messages};

/// `nile_reset.min_password_length` of `db`, when it says. The setting exists once the
/// extension's library is loaded in the session: the call to one of its functions in the same
/// statement loads it (a pooled connection may not have called one yet).
pub async fn min_password_length(db: &Database) -> Result<Option<u32>, ApiError> {
    let row = db
        .query_one(
            "SELECT auth.is_trusted_url('') AS loaded,
                    current_setting('nile_reset.min_password_length', true) AS min_length",
            &[],
        )
        .await?;
    let setting: Option<String> = row.try_get("min_length").unwrap_or(None);
    Ok(setting.and_then(|text| text.trim().parse().ok()))
}

/// The text under the password field before anything was typed.
pub fn requirements(messages: &Messages, min_length: Option<u32>) -> String {
    match min_length {
        Some(min) => fill(&messages.password_requirements, "min", &min.to_string()),
        None => messages.password_requirements_unknown.clone(),
    }
}

/// A refusal of `auth.check_new_password` in the page's language. The extension's messages are
/// recognized by their wording (src/password.rs); one this does not know is shown as the
/// database wrote it (class 22 messages are safe to show).
pub fn refusal(messages: &Messages, database_message: &str) -> String {
    if let Some(min) = number_between(database_message, "must be at least ", " characters") {
        return fill(&messages.password_too_short, "min", &min);
    }
    if let Some(max) = number_between(database_message, "must be at most ", " bytes") {
        return fill(&messages.password_too_long, "max", &max);
    }
    if database_message.contains("must not contain control characters") {
        return messages.password_control_characters.clone();
    }
    database_message.to_owned()
}

/// The digits between `before` and `after` in `text`.
fn number_between(text: &str, before: &str, after: &str) -> Option<String> {
    let (_, rest) = text.split_once(before)?;
    let (number, _) = rest.split_once(after)?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit())).then(|| number.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::pages::catalogue::Catalogue;

    fn messages(tag: &str) -> Messages {
        Catalogue::built_in()
            .unwrap()
            .negotiate([tag])
            .messages
            .clone()
    }

    #[test]
    fn the_extensions_refusals_are_translated() {
        let english = messages("en");
        assert_eq!(
            refusal(&english, "new_password must be at least 12 characters"),
            "This password is too short: use at least 12 characters."
        );
        assert!(refusal(&english, "new_password must be at most 72 bytes").contains("72 bytes"));
        assert_eq!(
            refusal(&english, "new_password must not contain control characters"),
            english.password_control_characters
        );
        let german = messages("de");
        assert_eq!(
            refusal(&german, "new_password must be at least 12 characters"),
            "Dieses Passwort ist zu kurz: Verwenden Sie mindestens 12 Zeichen."
        );
    }

    #[test]
    fn unknown_refusals_are_shown_as_the_database_wrote_them() {
        let english = messages("en");
        for message in [
            "new_password is on the list of breached passwords",
            "new_password must be at least twelve characters",
        ] {
            assert_eq!(refusal(&english, message), message);
        }
    }

    #[test]
    fn requirements_name_the_minimum_when_known() {
        let english = messages("en");
        assert_eq!(
            requirements(&english, Some(8)),
            "Use at least 8 characters."
        );
        assert_eq!(
            requirements(&english, None),
            english.password_requirements_unknown
        );
    }
}
