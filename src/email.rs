//! The rule for the email a reset is requested for, and its normalization
//! into an identifier (done by the database, `nile_reset.normalize_identifier`).

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::ArgError;
use crate::spi::{first_row, not_null, query, Statement};

const NORMALIZE: Statement = Statement {
    sql: "SELECT nile_reset.normalize_identifier($1) AS identifier",
    args: &[PgBuiltInOids::TEXTOID],
};

/// The identifier an email is stored and compared as: the database's one
/// normalization, so callers that use `auth.normalize_identifier` agree.
pub fn normalize(client: &mut SpiClient<'_>, email: &str) -> String {
    first_row(query(client, &NORMALIZE, &[email.into()]))
        .map(|row| not_null(&row, "identifier"))
        .unwrap_or_else(|| crate::error::internal_error("SELECT without FROM returned no row"))
}

pub const MAX_EMAIL_CHARS: usize = 254;

/// An email must be non-empty, at most 254 characters and free of control
/// characters (CR/LF would let it smuggle headers into the email).
pub fn check_email(email: &str) -> Result<(), ArgError> {
    if email.trim().is_empty() {
        return Err(ArgError::Invalid("email must not be empty".into()));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(ArgError::TooLong(format!(
            "email must be at most {MAX_EMAIL_CHARS} characters"
        )));
    }
    if email.chars().any(char::is_control) {
        return Err(ArgError::Invalid(
            "email must not contain control characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(check_email("a@example.com").is_ok());
        assert!(matches!(check_email(""), Err(ArgError::Invalid(_))));
        assert!(matches!(check_email("   "), Err(ArgError::Invalid(_))));
        assert!(matches!(
            check_email("a@b\r\nBcc: x@y"),
            Err(ArgError::Invalid(_))
        ));
        assert!(matches!(check_email("a\u{0}b"), Err(ArgError::Invalid(_))));
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(matches!(check_email(&long), Err(ArgError::TooLong(_))));
        let exactly = format!("{}@e.co", "a".repeat(254 - 5));
        assert!(check_email(&exactly).is_ok());
    }
}
