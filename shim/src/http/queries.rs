//! The extension's SQL API (README, "SQL API") as typed calls. All rules live in these functions;
//! a refusal comes back as SQLSTATE 22xxx/28000 with a message safe to show.

use super::databases::Database;
use super::error::ApiError;

/// `auth.generate_password_token`: whether a reset email was queued (false: nothing happened,
/// e.g. unknown user or asked again too soon; the caller must not be able to tell which).
pub async fn generate_password_token(
    db: &Database,
    email: &str,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> Result<bool, ApiError> {
    let row = db
        .query_one(
            "SELECT created FROM auth.generate_password_token($1, $2, $3)",
            &[&email, &callback_url, &redirect_url],
        )
        .await?;
    Ok(row.get::<_, Option<bool>>(0) == Some(true))
}

/// `auth.generate_password_link`: the reset link itself, when one was created.
pub async fn generate_password_link(
    db: &Database,
    email: &str,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let row = db
        .query_one(
            "SELECT created, link FROM auth.generate_password_link($1, $2, $3)",
            &[&email, &callback_url, &redirect_url],
        )
        .await?;
    if row.get::<_, Option<bool>>(0) != Some(true) {
        return Ok(None);
    }
    match row.get::<_, Option<String>>(1) {
        Some(link) => Ok(Some(link)),
        None => {
            tracing::error!(
                database = db.name(),
                "generate_password_link created no link"
            );
            Err(ApiError::DatabaseFailure)
        }
    }
}

/// `auth.verify_password_token`: only `Valid` lets the reset go on.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenStatus {
    Valid,
    Invalid,
    Expired,
}

/// The token's status, and whether `callback_url` may be redirected to
/// (`auth.is_trusted_url`: the extension's URL rules and origin allow-list).
pub async fn verify_password_token(
    db: &Database,
    identifier: &str,
    token: &str,
    callback_url: &str,
) -> Result<(TokenStatus, bool), ApiError> {
    let row = db
        .query_one(
            "SELECT v.status, auth.is_trusted_url($3) FROM auth.verify_password_token($1, $2) v",
            &[&identifier, &token, &callback_url],
        )
        .await?;
    let status = match row.get::<_, Option<&str>>(0) {
        Some("valid") => TokenStatus::Valid,
        Some("expired") => TokenStatus::Expired,
        _ => TokenStatus::Invalid,
    };
    Ok((status, row.get::<_, Option<bool>>(1) == Some(true)))
}

/// `auth.reset_password`: consumes the token and sets the new password.
pub async fn reset_password(
    db: &Database,
    identifier: &str,
    token: &str,
    new_password: &str,
) -> Result<(), ApiError> {
    // `::text` keeps the uuid result out of the wire decoding: we only need success.
    db.query_one(
        "SELECT auth.reset_password($1, $2, $3)::text",
        &[&identifier, &token, &new_password],
    )
    .await?;
    Ok(())
}
