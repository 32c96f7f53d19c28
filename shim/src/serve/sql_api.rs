//! The extension's SQL API (README, "SQL API") as typed calls. All rules live in these functions;
//! a refusal comes back as SQLSTATE 22xxx/28000 with a message safe to show.

use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use super::databases::Database;
use super::error::ApiError;

/// Column `name` of `row`. A missing column or another type means the SQL is not the one this
/// binary was built for: an internal error, logged, never a guess.
fn column<'a, T: FromSql<'a>>(db: &Database, row: &'a Row, name: &str) -> Result<T, ApiError> {
    row.try_get(name).map_err(|error| {
        tracing::error!(database = db.name(), column = name, %error, "unexpected SQL answer");
        ApiError::Internal
    })
}

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
    Ok(column::<Option<bool>>(db, &row, "created")? == Some(true))
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
    if column::<Option<bool>>(db, &row, "created")? != Some(true) {
        return Ok(None);
    }
    match column::<Option<String>>(db, &row, "link")? {
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

/// `auth.verify_password_token`'s status: only `Valid` lets the reset go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Valid,
    Invalid,
    Expired,
}

impl TokenStatus {
    /// Every status the SQL can answer, and nothing else: a status this binary does not know
    /// means it talks to an extension it was not built for, which is an error, not "invalid".
    pub fn parse(status: &str) -> Option<TokenStatus> {
        match status {
            "valid" => Some(TokenStatus::Valid),
            "invalid" => Some(TokenStatus::Invalid),
            "expired" => Some(TokenStatus::Expired),
            _ => None,
        }
    }
}

/// What the database says about an emailed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck {
    /// Its callback URL may not be redirected to; the token was not looked at.
    Untrusted,
    /// The token's status, and the identifier in the database's one normalization.
    Trusted {
        identifier: String,
        status: TokenStatus,
    },
}

/// An emailed link in one round trip: [`check_link`], then, only when the callback URL is
/// trusted, [`verify_password_token`], with the errors of those two calls in turn: a refusal of
/// the link itself (e.g. a malformed identifier) is an error, a malformed token is just an
/// invalid link to the person clicking it.
pub async fn check_and_verify_link(
    db: &Database,
    callback_url: &str,
    identifier: &str,
    token: &str,
) -> Result<LinkCheck, ApiError> {
    let answer = db
        .query_one(
            // OFFSET 0 keeps the subquery from being inlined, which would call is_trusted_url
            // twice; the token is verified only for a trusted callback URL.
            "SELECT link.trusted, link.identifier, \
                    CASE WHEN link.trusted THEN \
                        (SELECT v.status::text FROM auth.verify_password_token($2, $3) v) \
                    END AS status \
             FROM (SELECT auth.is_trusted_url($1) AS trusted, \
                          auth.normalize_identifier($2) AS identifier OFFSET 0) link",
            &[&callback_url, &identifier, &token],
        )
        .await;
    let row = match answer {
        Ok(row) => row,
        // One statement does not say which call refused: ask again without the token, which
        // is verified at most once.
        Err(ApiError::BadRequest(_)) => {
            return Ok(match check_link(db, callback_url, identifier).await? {
                (false, _) => LinkCheck::Untrusted,
                (true, identifier) => LinkCheck::Trusted {
                    identifier,
                    status: TokenStatus::Invalid,
                },
            });
        }
        Err(other) => return Err(other),
    };
    let trusted = column::<Option<bool>>(db, &row, "trusted")? == Some(true);
    let identifier = normalized(db, &row)?;
    if !trusted {
        return Ok(LinkCheck::Untrusted);
    }
    Ok(LinkCheck::Trusted {
        identifier,
        status: token_status(db, &row)?,
    })
}

/// Whether `callback_url` may be redirected to (`auth.is_trusted_url`: the extension's URL
/// rules and origin allow-list), and `identifier` in the database's one normalization
/// (`auth.normalize_identifier`), in one round trip that counts nothing against any token.
async fn check_link(
    db: &Database,
    callback_url: &str,
    identifier: &str,
) -> Result<(bool, String), ApiError> {
    let row = db
        .query_one(
            "SELECT auth.is_trusted_url($1) AS trusted, auth.normalize_identifier($2) AS identifier",
            &[&callback_url, &identifier],
        )
        .await?;
    let trusted = column::<Option<bool>>(db, &row, "trusted")? == Some(true);
    Ok((trusted, normalized(db, &row)?))
}

/// `auth.normalize_identifier`: the form tokens are stored and compared under. The shim never
/// lower-cases by itself (Rust's rules are not PostgreSQL's, e.g. for a final sigma).
pub async fn normalize_identifier(db: &Database, identifier: &str) -> Result<String, ApiError> {
    let row = db
        .query_one(
            "SELECT auth.normalize_identifier($1) AS identifier",
            &[&identifier],
        )
        .await?;
    normalized(db, &row)
}

fn normalized(db: &Database, row: &Row) -> Result<String, ApiError> {
    column::<Option<String>>(db, row, "identifier")?.ok_or_else(|| {
        tracing::error!(
            database = db.name(),
            "auth.normalize_identifier answered NULL"
        );
        ApiError::Internal
    })
}

/// `auth.verify_password_token`: the token's status. A right token whose user no longer holds
/// the email is dropped, so callers check everything else about the request first.
pub async fn verify_password_token(
    db: &Database,
    identifier: &str,
    token: &str,
) -> Result<TokenStatus, ApiError> {
    let row = db
        .query_one(
            // ::text: the status reads the same whether SQL spells it as text or as an enum.
            "SELECT v.status::text AS status FROM auth.verify_password_token($1, $2) v",
            &[&identifier, &token],
        )
        .await?;
    token_status(db, &row)
}

/// Column `status`: a status this binary does not know is an error, as is NULL.
fn token_status(db: &Database, row: &Row) -> Result<TokenStatus, ApiError> {
    let answer: Option<&str> = column(db, row, "status")?;
    answer.and_then(TokenStatus::parse).ok_or_else(|| {
        tracing::error!(
            database = db.name(),
            status = answer,
            "auth.verify_password_token answered an unknown status"
        );
        ApiError::Internal
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_statuses_parse_exhaustively() {
        assert_eq!(TokenStatus::parse("valid"), Some(TokenStatus::Valid));
        assert_eq!(TokenStatus::parse("invalid"), Some(TokenStatus::Invalid));
        assert_eq!(TokenStatus::parse("expired"), Some(TokenStatus::Expired));
        for unknown in ["", "Valid", "revoked", "valid "] {
            assert_eq!(TokenStatus::parse(unknown), None, "{unknown:?}");
        }
    }
}
