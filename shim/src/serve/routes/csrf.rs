//! `GET /v2/databases/{database}/auth/csrf`: a CSRF token and its signed cookie.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::serve::cookies;
use crate::serve::error::ApiError;
use crate::serve::extract::{ServedDatabase, WithinRateLimit};
use crate::serve::state::AppState;

/// Issues a fresh token every time (a new cookie replaces the old one), valid for the database
/// in the path only.
pub async fn issue(
    State(state): State<Arc<AppState>>,
    ServedDatabase(db): ServedDatabase,
    _within_limit: WithinRateLimit,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secure = cookies::secure(&headers, state.public_url.as_ref());
    let issued = cookies::issue_csrf(&state.secret, db.name(), secure)?;
    Ok((
        [(SET_COOKIE, issued.set_cookie)],
        Json(json!({ "csrfToken": issued.token })),
    )
        .into_response())
}
