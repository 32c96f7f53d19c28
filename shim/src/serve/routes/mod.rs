//! The route table and the layers around it.

mod csrf;
mod ops;
mod reset;

/// The latency floor's precise sleep, shared with the pages.
pub(crate) use reset::sleep_until_precisely;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::observe::observe;
use super::pages::{self, Pages};
use super::state::AppState;
use super::ServeConfig;

/// The bounds the auth routes enforce on each request.
#[derive(Clone, Copy)]
pub struct Limits {
    pub request_timeout: Duration,
    pub body_limit: usize,
}

impl Limits {
    pub fn of(config: &ServeConfig) -> Limits {
        Limits {
            request_timeout: config.request_timeout,
            body_limit: config.body_limit,
        }
    }
}

/// The public application; with `pages`, the reference pages too (`serve --pages`).
pub fn router(state: Arc<AppState>, limits: Limits, pages: Option<Arc<Pages>>) -> Router {
    let mut auth = Router::new()
        .route("/v2/databases/{database}/auth/csrf", get(csrf::issue))
        .route(
            "/v2/databases/{database}/auth/reset-password",
            get(reset::validate_link)
                .post(reset::request_reset)
                .put(reset::reset_password),
        );
    if let Some(pages) = pages {
        auth = auth.merge(pages::routes(pages));
    }
    let auth = auth
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            within_request_timeout,
        ))
        .layer(DefaultBodyLimit::max(limits.body_limit));

    let public = Router::new()
        .merge(auth)
        .route("/openapi.yaml", get(ops::openapi));
    with_common_layers(public, state)
}

/// Answers 503 with a text body once `limit` has passed (tower-http's timeout answers with an
/// empty one, which a client cannot tell from a proxy's).
async fn within_request_timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut.into_response(),
    }
}

/// `/healthz` and `/metrics`, for the --admin-listen address only: they name the served
/// databases and show the rate of resets, which the public has no business seeing.
pub fn admin_router(state: Arc<AppState>) -> Router {
    let admin = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics));
    with_common_layers(admin, state)
}

fn with_common_layers(routes: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    routes
        .fallback(ops::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        // Auth answers carry tokens or set cookies: never cache them, and never leak a reset
        // link (the page URL) to another site through Referer. Applied to every response, so
        // no path (a 404 included) can miss them.
        .layer(static_header(CACHE_CONTROL, "no-store"))
        .layer(static_header(REFERRER_POLICY, "no-referrer"))
        .layer(static_header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .with_state(state)
}

fn static_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}
