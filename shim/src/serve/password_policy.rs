//! The extension's new-password policy, asked before a reset link is handed out: Nile's SDK
//! sends the new password with its `?json=true` request, and a password the PUT would refuse
//! is better refused before a token exists.
//!
//! The rule itself lives in SQL (`auth.check_new_password`, the check `auth.reset_password`
//! makes); its refusals are class 22 errors whose messages are safe to show.

use super::databases::Database;
use super::error::ApiError;

/// Ok when `password` satisfies the policy; otherwise 400 with the policy's message.
pub async fn check(db: &Database, password: &str) -> Result<(), ApiError> {
    db.query_one(
        "SELECT 1::int4 AS accepted FROM auth.check_new_password($1)",
        &[&password],
    )
    .await?;
    Ok(())
}
