//! Errors carry precise SQLSTATEs; messages name the offending argument and
//! never contain a secret (token, password, link), so they are safe to show.

use pgrx::pg_sys::panic::{CaughtError, ErrorReport, ErrorReportWithLevel};
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};

fn raise(code: PgSqlErrorCode, message: &str) -> ! {
    ereport!(ERROR, code, message.to_owned());
}

/// Raises `code` with `message` and, as the error's HINT, what to do about it
/// (guidance is never DETAIL).
pub fn raise_with_hint(code: PgSqlErrorCode, message: String, hint: impl Into<String>) -> ! {
    report_with_hint(PgLogLevel::ERROR, code, message, hint);
    unreachable!("an ERROR report does not return")
}

/// Warns with `message` and, as its HINT, what to do about it; the statement
/// goes on.
pub fn warn_with_hint(message: String, hint: impl Into<String>) {
    report_with_hint(
        PgLogLevel::WARNING,
        PgSqlErrorCode::ERRCODE_WARNING,
        message,
        hint,
    );
}

fn report_with_hint(
    level: PgLogLevel,
    code: PgSqlErrorCode,
    message: String,
    hint: impl Into<String>,
) {
    ErrorReport::new(code, message, pgrx::function_name!())
        .set_hint(hint)
        .report(level);
}

/// The error report inside a caught error, whichever kind it is.
pub fn report_of(error: &CaughtError) -> &ErrorReportWithLevel {
    match error {
        CaughtError::PostgresError(report)
        | CaughtError::ErrorReport(report)
        | CaughtError::RustPanic {
            ereport: report, ..
        } => report,
    }
}

/// 22004: a required argument is NULL.
pub fn required<T>(value: Option<T>, name: &str) -> T {
    match value {
        Some(value) => value,
        None => raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            &format!("{name} must not be null"),
        ),
    }
}

/// 22023: a setting holds a value the extension cannot use.
pub fn invalid_setting(message: &str) -> ! {
    raise(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
}

/// XX000: a failure that no input can cause (the OS RNG, a library bug).
/// The message is fixed text, never a value.
pub fn internal_error(message: &str) -> ! {
    raise(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, message)
}

/// 28000: the reset token does not authorize the request.
pub fn bad_token(message: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        message,
    )
}

/// Argument errors found by the pure validation code (which stays free of
/// PostgreSQL so it can be unit-tested), raised later with their SQLSTATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// 22001: longer than the rule allows.
    TooLong(String),
    /// 22023: malformed, or not allowed.
    Invalid(String),
}

impl ArgError {
    /// The same error about one element of an array argument, e.g.
    /// "emails[3]: email must not be empty".
    pub fn at(self, element: &str) -> ArgError {
        match self {
            ArgError::TooLong(message) => ArgError::TooLong(format!("{element}: {message}")),
            ArgError::Invalid(message) => ArgError::Invalid(format!("{element}: {message}")),
        }
    }

    pub fn raise(self) -> ! {
        match self {
            ArgError::TooLong(message) => raise(
                PgSqlErrorCode::ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
                &message,
            ),
            ArgError::Invalid(message) => {
                raise(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, &message)
            }
        }
    }
}

/// Unwraps a validation result or raises its error.
pub fn or_raise<T>(result: Result<T, ArgError>) -> T {
    result.unwrap_or_else(|e| e.raise())
}
