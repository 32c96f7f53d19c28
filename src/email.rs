//! The rule for the email a reset is requested for.

use crate::error::ArgError;

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
