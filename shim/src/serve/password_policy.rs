//! The extension's new-password policy, asked before a reset link is handed out: Nile's SDK
//! sends the new password with its `?json=true` request, and a password the PUT would refuse
//! is better refused before a token exists (a retry would otherwise land in the resend
//! interval).
//!
//! The policy lives in `auth.reset_password`, which checks the password before it looks at the
//! token. Asking it with an identifier no token can ever have (the empty one: emails are never
//! empty) answers the policy's own refusal (SQLSTATE 22xxx, with its message) or, for an
//! acceptable password, "invalid token" (28000). Either way the statement fails, so whatever it
//! did is rolled back.

use super::databases::Database;
use super::error::ApiError;

/// SQLSTATE of `auth.reset_password`'s "reset token is invalid": the password passed.
const TOKEN_REFUSED: &str = "28000";

/// Ok when `password` satisfies the policy; otherwise 400 with the policy's message.
pub async fn check(db: &Database, password: &str) -> Result<(), ApiError> {
    let answer = db
        .query_one_unless(
            "SELECT auth.reset_password('', '', $1)::text",
            &[&password],
            TOKEN_REFUSED,
        )
        .await?;
    match answer {
        None => Ok(()),
        // Success would mean a token with an empty identifier exists: never issued by the SQL.
        Some(_) => {
            tracing::error!(
                database = db.name(),
                "a reset with the empty identifier succeeded"
            );
            Err(ApiError::Internal)
        }
    }
}
