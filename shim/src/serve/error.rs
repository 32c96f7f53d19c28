//! Every way a request can fail, and the status and body each one is answered with.
//! Bodies are short, text/plain and safe to show to end users: they never carry internals.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub enum ApiError {
    /// 400 with a message for the user: bad input, or a rule the database enforced
    /// (SQLSTATE classes 22 and 28, whose messages the SQL contract keeps safe to show).
    BadRequest(String),
    /// 400 for a database that failed (down, misconfigured, extension missing): the details go to
    /// the log and the metrics, never to the client.
    DatabaseFailure,
    /// 401: `?json=true` without a valid API key.
    Unauthorized,
    /// 404: the reset request lacks a valid CSRF cookie (Nile's "Missing csrf").
    MissingCsrf,
    /// 404: the path names a database this server is not configured to serve.
    UnknownDatabase,
    /// 413: the body is larger than --body-limit.
    PayloadTooLarge,
    /// 429: the client's address used up its --rate-limit-per-minute; `Retry-After` says when
    /// it has a request again.
    TooManyRequests { retry_after_secs: u64 },
    /// 503: the request ran out of --request-timeout (or the database cancelled its statement
    /// at the same limit): the statement is cancelled and its transaction rolled back.
    TimedOut,
    /// 500: something that is not the client's or the database's fault (e.g. no randomness).
    Internal,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::DatabaseFailure => (
                StatusCode::BAD_REQUEST,
                "Unable to process request".to_owned(),
            ),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized".to_owned()),
            ApiError::MissingCsrf => (StatusCode::NOT_FOUND, "Missing csrf".to_owned()),
            ApiError::UnknownDatabase => (StatusCode::NOT_FOUND, "Unknown database".to_owned()),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large".to_owned(),
            ),
            ApiError::TooManyRequests { retry_after_secs } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "Too many requests",
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
                return response;
            }
            ApiError::TimedOut => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The request took too long and was cancelled; try again".to_owned(),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error".to_owned(),
            ),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{error:#}"), "internal error");
        ApiError::Internal
    }
}
