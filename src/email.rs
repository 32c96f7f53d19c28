//! The rule for the email a reset is requested for, and its normalization
//! into an identifier (done by the database, `nile_reset.normalize_identifier`).

use pgrx::{pg_sys, FromDatum, IntoDatum};

use crate::error::ArgError;

/// The identifier an email is stored and compared as: the database's one
/// normalization, `nile_reset.normalize_identifier`, i.e.
/// `lower(btrim(email))`, computed here by the very functions that SQL
/// calls (`btrim(text)`, `lower(text)`) with the collation it uses (the database's
/// default), so callers that use `auth.normalize_identifier` agree, letter
/// for letter, without a statement.
pub fn normalize(email: &str) -> String {
    if is_normalized_ascii(email) {
        return email.to_owned();
    }
    let datum = email
        .into_datum()
        .unwrap_or_else(|| crate::error::internal_error("text without a datum"));
    // SAFETY: both are strict built-ins taking and returning one text; the
    // datum is a valid text; OidFunctionCall raises on a NULL result.
    let lowered = unsafe {
        let trimmed = pg_sys::OidFunctionCall1Coll(
            pg_sys::Oid::from(pg_sys::F_BTRIM_TEXT),
            pg_sys::DEFAULT_COLLATION_OID,
            datum,
        );
        let lowered = pg_sys::OidFunctionCall1Coll(
            pg_sys::Oid::from(pg_sys::F_LOWER_TEXT),
            pg_sys::DEFAULT_COLLATION_OID,
            trimmed,
        );
        String::from_datum(lowered, false)
    };
    lowered.unwrap_or_else(|| crate::error::internal_error("lower() returned NULL"))
}

/// Whether `lower(btrim(email))` is `email` itself whatever the database's
/// collation: ASCII without capitals and without a space at either end.
/// `btrim(text)` trims only spaces; no collation provider (libc in any
/// locale, ICU, the builtin one) lower-cases an ASCII character other than
/// A-Z (the Turkish and Lithuanian rules start from capitals). Most emails
/// arrive this way, and then need neither call nor conversion.
fn is_normalized_ascii(email: &str) -> bool {
    let bytes = email.as_bytes();
    bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
        && bytes
            .iter()
            .all(|byte| byte.is_ascii() && !byte.is_ascii_uppercase())
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

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use pgrx::prelude::*;

    /// The normalization computed without a statement is the SQL
    /// function's, letter for letter, also where Unicode case rules bite.
    #[pg_test]
    fn normalize_agrees_with_the_sql_function() {
        for email in [
            "  Jane@Example.COM  ",
            "ΣΊΣΥΦΟΣ@example.com",
            "İSTANBUL@example.com",
            "STRASSE@ß.example",
            "ǄǅǆDž@example.com",
            "\u{00A0}nbsp@example.com\u{00A0}",
            "\tTab@example.com",
            "",
            // ASCII that is already its own normalization, and the cases
            // just beside it.
            "jane.doe+reset@example.com",
            "\ttab@example.com\t",
            "u:42@example.com",
            " jane@example.com",
            "jane@example.com ",
            "Jane@example.com",
            "jane@exampl\u{00E9}.com",
            "I@example.com",
            " ",
        ] {
            let sql = Spi::get_one_with_args::<String>(
                "SELECT nile_reset.normalize_identifier($1)",
                &[email.into()],
            )
            .unwrap()
            .unwrap();
            assert_eq!(normalize(email), sql, "{email:?}");
        }
    }

    /// The fast path's premise, over every collation this server has
    /// (libc, ICU's hundreds of locales with Turkish and Lithuanian among
    /// them): lower() keeps ASCII without capitals as it is.
    /// A server built without ICU still lists ICU collations (16's
    /// `unicode`) but cannot use them: those are left out there.
    #[pg_test]
    fn no_collation_lowers_ascii_without_capitals() {
        let usable =
            "l.collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))
              AND (l.collprovider <> 'i' OR (SELECT c.setting LIKE '%--with-icu%'
                     OR (current_setting('server_version_num')::int >= 160000
                         AND c.setting NOT LIKE '%--without-icu%')
                     FROM pg_config c WHERE c.name = 'CONFIGURE'))";
        let collations = Spi::get_one::<i64>(&format!(
            "SELECT count(*) FROM pg_collation l WHERE {usable}"
        ))
        .unwrap()
        .unwrap();
        let s: String = (1u8..=127)
            .filter(|b| !b.is_ascii_uppercase())
            .map(char::from)
            .collect();
        let mut checked = 0;
        for (schema, name) in Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT n.nspname::text, l.collname::text FROM pg_collation l
                           JOIN pg_namespace n ON n.oid = l.collnamespace WHERE {usable}"
                    ),
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| {
                    (
                        row.get::<String>(1).unwrap().unwrap(),
                        row.get::<String>(2).unwrap().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }) {
            let lowered = Spi::get_one_with_args::<String>(
                &format!(
                    "SELECT pg_catalog.lower($1 COLLATE {}.{})",
                    pgrx::spi::quote_identifier(&schema),
                    pgrx::spi::quote_identifier(&name)
                ),
                &[s.as_str().into()],
            )
            .unwrap()
            .unwrap();
            assert_eq!(lowered, s, "collation {schema}.{name}");
            assert!(is_normalized_ascii(&lowered));
            checked += 1;
        }
        assert_eq!(checked, collations);
    }

    #[test]
    fn ascii_fast_path_takes_only_what_needs_no_database() {
        assert!(is_normalized_ascii("jane.doe+reset@example.com"));
        assert!(is_normalized_ascii("\tjane@example.com"));
        assert!(is_normalized_ascii(""));
        assert!(!is_normalized_ascii("Jane@example.com"));
        assert!(!is_normalized_ascii("jane@example.COM"));
        assert!(!is_normalized_ascii(" jane@example.com"));
        assert!(!is_normalized_ascii("jane@example.com "));
        assert!(!is_normalized_ascii("jane@exampl\u{00E9}.com"));
        assert!(!is_normalized_ascii("\u{00A0}jane@example.com"));
    }

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
