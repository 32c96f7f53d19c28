//! `/v2/databases/{database}/auth/reset-password`: request a reset (POST), open the emailed link
//! (GET), set the new password (PUT). Statuses and messages follow Nile's service.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::serve::cookies::{self, ResetCookie, SentResetCookie};
use crate::serve::databases::Database;
use crate::serve::error::ApiError;
use crate::serve::extract::{query_param, JsonBody, ServedDatabase, WithinRateLimit};
use crate::serve::sql_api::{self, LinkCheck, TokenStatus};
use crate::serve::state::AppState;
use crate::serve::{callback_url, password_policy};

/// Appended to the callback URL when a link does not check out (Nile's wording).
const INVALID_TOKEN_ERROR: &str = "error=Token%20is%20invalid";

/// POST (generatePasswordToken): `{email, callbackUrl, redirectUrl}`.
/// 201: email queued; 200: nothing happened (the answer does not tell whether the user exists);
/// with --uniform-status always 201.
/// `?json=true` with a valid API key: 201 `{"url": link}` and no email.
pub async fn request_reset(
    State(state): State<Arc<AppState>>,
    ServedDatabase(db): ServedDatabase,
    _within_limit: WithinRateLimit,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    // Whatever happens, the answer leaves no earlier than the floor: a request that queues an
    // email does more work than one that does not, and the difference must not show.
    let floor = Instant::now() + state.min_response_time;
    let answer = answer_reset_request(&state, &db, &uri, &headers, &body).await;
    if !state.min_response_time.is_zero() {
        sleep_until_precisely(floor).await;
    }
    answer
}

/// Sleeps until `deadline` with sub-millisecond precision. tokio's timers
/// wake through epoll_wait, whose timeout is whole milliseconds rounded up
/// from when the thread parks: the wake-up then lands `deadline` plus the
/// sub-millisecond part of the moment the work ended, and that moment is
/// what the floor hides (measured: a classifier told known from unknown
/// emails 65-75% of the time through it). timerfd wakes at the deadline
/// itself, whenever the work ended.
#[cfg(target_os = "linux")]
pub(crate) async fn sleep_until_precisely(deadline: Instant) {
    match tokio_timerfd::Delay::new(deadline) {
        Ok(delay) => {
            if delay.await.is_ok() {
                return;
            }
        }
        Err(error) => tracing::warn!(%error, "timerfd unavailable: the latency floor is coarse"),
    }
    tokio::time::sleep_until(deadline.into()).await;
}

#[cfg(not(target_os = "linux"))]
pub(crate) async fn sleep_until_precisely(deadline: Instant) {
    tokio::time::sleep_until(deadline.into()).await;
}

async fn answer_reset_request(
    state: &AppState,
    db: &Database,
    uri: &Uri,
    headers: &HeaderMap,
    body: &JsonBody,
) -> Result<Response, ApiError> {
    let email = body
        .non_empty_string("email")
        .ok_or_else(|| ApiError::bad_request("Email is required"))?;
    let redirect_url = body.optional_string("redirectUrl")?;
    let callback_url = callback_url::resolve(
        body.optional_string("callbackUrl")?,
        redirect_url,
        headers,
        cookies::secure(headers, state.public_url.as_ref()),
    );
    let callback_url = callback_url.as_deref();
    for (name, url) in [("callbackUrl", callback_url), ("redirectUrl", redirect_url)] {
        if url.is_some_and(nile_reset_urls::is_ambiguous) {
            return Err(ApiError::bad_request(format!("Invalid {name}")));
        }
    }

    if query_param(uri.query(), "json").as_deref() == Some("true") {
        // The key (bearer, or a cookie no browser is ever given) is not sent automatically by
        // browsers, so it needs no CSRF cookie.
        if !state.api_keys.authorize(db.name(), headers) {
            return Err(ApiError::Unauthorized);
        }
        // Nile's SDK sends the new password here: refuse it before a link exists.
        if let Some(password) = body.optional_string("password")? {
            password_policy::check(db, password).await?;
        }
        let link = sql_api::generate_password_link(db, email, callback_url, redirect_url).await?;
        return Ok(match link {
            Some(url) => (StatusCode::CREATED, Json(json!({ "url": url }))).into_response(),
            None => StatusCode::OK.into_response(),
        });
    }

    let secure = cookies::secure(headers, state.public_url.as_ref());
    let Some(csrf_token) = cookies::verify_csrf(headers, &state.secret, db.name(), secure) else {
        return Err(ApiError::MissingCsrf);
    };
    // Nile's SDK sends the cookie alone; a client that also submits the token (NextAuth's
    // double submit) must submit the cookie's.
    if let Some(submitted) = body.optional_string("csrfToken")? {
        if !bool::from(submitted.as_bytes().ct_eq(csrf_token.as_bytes())) {
            return Err(ApiError::MissingCsrf);
        }
    }
    let queued = sql_api::generate_password_token(db, email, callback_url, redirect_url).await?;
    let status = if queued || state.uniform_status {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(status.into_response())
}

/// GET (validatePasswordToken): the link from the email, `?token&identifier&callbackUrl`.
/// Always 200 (clients use fetch, which would follow a redirect and drop the cookie): with the
/// reset cookie and `Location: callbackUrl` when the token checks out, otherwise with
/// `Location: callbackUrl?error=Token%20is%20invalid`.
/// It answers no earlier than the POST's latency floor, ending on the same precise deadline:
/// a check for an identifier with a token must not show against one without.
pub async fn validate_link(
    State(state): State<Arc<AppState>>,
    ServedDatabase(db): ServedDatabase,
    _within_limit: WithinRateLimit,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let floor = Instant::now() + state.min_response_time;
    let answer = answer_link(&state, &db, &uri, &headers).await;
    if !state.min_response_time.is_zero() {
        sleep_until_precisely(floor).await;
    }
    answer
}

async fn answer_link(
    state: &AppState,
    db: &Database,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let query = uri.query();
    let required = |name: &str| query_param(query, name).filter(|value| !value.is_empty());
    let token = required("token").ok_or_else(|| ApiError::bad_request("Missing token"))?;
    let identifier =
        required("identifier").ok_or_else(|| ApiError::bad_request("Missing identifier"))?;
    let callback_url = required("callbackUrl")
        .or_else(|| required("callbackURL"))
        .ok_or_else(|| ApiError::bad_request("Missing callbackUrl"))?;
    let follow = query_param(query, "redirect").as_deref() != Some("false");
    // Refused before the database is asked anything, so no token is looked at.
    if nile_reset_urls::is_ambiguous(&callback_url) {
        return Err(ApiError::bad_request("Invalid callbackUrl"));
    }
    // Both possible Location values are checked before the database is asked anything.
    let valid_location = location(&callback_url)?;
    let invalid_location = location(&with_error(&callback_url))?;

    // Everything else about the request is checked before the token: verifying may drop a
    // token whose user changed, which a request refused for another reason must never do.
    let (binding, status) =
        match sql_api::check_and_verify_link(db, &callback_url, &identifier, &token).await? {
            LinkCheck::Trusted { identifier, status } => (identifier, status),
            // Never a Location (which Nile's SDK follows) to an origin the database does not
            // trust: the link's callbackUrl is attacker-controlled input.
            LinkCheck::Untrusted => {
                return Err(ApiError::bad_request("callbackUrl origin is not trusted"))
            }
        };

    let mut response = StatusCode::OK.into_response();
    let response_headers = response.headers_mut();
    if status == TokenStatus::Valid {
        let secure = cookies::secure(headers, state.public_url.as_ref());
        response_headers.insert(
            SET_COOKIE,
            cookies::reset_cookie(&state.secret, db.name(), &token, &binding, secure),
        );
        if follow {
            response_headers.insert(LOCATION, valid_location);
        }
    } else {
        response_headers.insert(LOCATION, invalid_location);
    }
    Ok(response)
}

/// PUT (resetPassword): `{password[, email]}` plus the reset cookie from the GET.
/// 204 once the password is changed (the cookie is then cleared). Without an email (Nile's
/// React form sends none, and Nile reads it from the token) the user is the one the cookie
/// was issued for; with one, it must be that user's.
pub async fn reset_password(
    State(state): State<Arc<AppState>>,
    ServedDatabase(db): ServedDatabase,
    _within_limit: WithinRateLimit,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let email = body.non_empty_string("email");
    let password = body
        .optional_string("password")?
        .ok_or_else(|| ApiError::bad_request("Password is required"))?;

    let secure = cookies::secure(&headers, state.public_url.as_ref());
    let sent = match cookies::read_reset(&headers, secure) {
        SentResetCookie::Missing => return Err(ApiError::bad_request("Missing reset token")),
        SentResetCookie::Malformed => {
            return Err(ApiError::bad_request("Unable to process request"))
        }
        sent => sent,
    };
    // Links carry the identifier as the database stores it, Nile's SDK sends back the email as
    // typed: the cookie is bound to the database's normalization of either.
    let (binding, identifier) = match email {
        Some(email) => (
            sql_api::normalize_identifier(&db, email).await?,
            email.to_owned(),
        ),
        None => match sent.identifier() {
            Some(identifier) => (identifier.to_owned(), identifier.to_owned()),
            // A cookie from 0.2.0 names no one: the client must.
            None => return Err(ApiError::bad_request("Email is required")),
        },
    };
    let token = match sent.verify(&state.secret, db.name(), &binding) {
        ResetCookie::Valid(token) => token,
        _ => return Err(ApiError::bad_request("Unable to process request")),
    };
    // The database normalizes identifiers its own way; it gets the email as typed.
    sql_api::reset_password(&db, &identifier, &token, password).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, cookies::clear_reset_cookie(secure))],
    )
        .into_response())
}

/// `url` with Nile's error parameter added, before any fragment.
fn with_error(url: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut result = format!("{base}{separator}{INVALID_TOKEN_ERROR}");
    if let Some(fragment) = fragment {
        result.push('#');
        result.push_str(fragment);
    }
    result
}

/// The callback URL as a header value; one that cannot be a header (control characters,
/// non-ASCII) is refused rather than mangled.
fn location(url: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(url).map_err(|_| ApiError::bad_request("Invalid callbackUrl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_parameter_joins_any_existing_query() {
        assert_eq!(
            with_error("http://localhost:3000/reset"),
            "http://localhost:3000/reset?error=Token%20is%20invalid"
        );
        assert_eq!(
            with_error("http://localhost:3000/reset?step=2"),
            "http://localhost:3000/reset?step=2&error=Token%20is%20invalid"
        );
        assert_eq!(
            with_error("http://localhost:3000/#/reset"),
            "http://localhost:3000/?error=Token%20is%20invalid#/reset"
        );
    }

    #[test]
    fn header_unsafe_callbacks_are_refused() {
        assert!(location("http://localhost:3000/ok").is_ok());
        assert!(location("http://localhost:3000/\r\nSet-Cookie: x=y").is_err());
    }

    /// The floor must end at its deadline, not at the deadline plus the
    /// sub-millisecond part of when the work before it ended (which is what
    /// a millisecond-granular timer does, and what leaks that work's length).
    /// Work of varying length is followed by a sleep to a deadline; with a
    /// millisecond timer about half the wake-ups come 0.5 ms late or more.
    #[tokio::test]
    async fn the_floor_ends_at_its_deadline_whenever_the_work_ended() {
        let samples = 40;
        let mut late = 0;
        for i in 0..samples {
            let start = Instant::now();
            // "Work" that ends at a different sub-millisecond moment each time.
            std::thread::sleep(std::time::Duration::from_micros(100 + 23 * i));
            let deadline = start + std::time::Duration::from_millis(5);
            sleep_until_precisely(deadline).await;
            if Instant::now() - deadline > std::time::Duration::from_micros(500) {
                late += 1;
            }
        }
        // A generous bound for a loaded machine; a millisecond timer is late
        // about half the time.
        assert!(
            late * 100 < samples * 35,
            "{late} of {samples} wake-ups were 0.5 ms late or more"
        );
    }
}
