//! Operational routes: health, metrics, the API description, and the fallback.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::future::join_all;

use crate::http::state::AppState;

/// The OpenAPI document of this server, compiled in so it always matches the binary.
const OPENAPI: &str = include_str!("../../../openapi.yaml");

const TEXT: &str = "text/plain; charset=utf-8";

/// 200 when every configured database answers `SELECT 1` in time, else 503. The body says no
/// more than that; which database failed is logged.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let timeout = state.db_timeout;
    let checks = state.databases.iter().map(|db| async move {
        match tokio::time::timeout(timeout, db.ping()).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false, // already logged and counted
            Err(_) => {
                tracing::warn!(database = db.name(), "health check timed out");
                false
            }
        }
    });
    let healthy = join_all(checks).await.into_iter().all(|ok| ok);
    if healthy {
        (StatusCode::OK, [(CONTENT_TYPE, TEXT)], "ok").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, TEXT)],
            "unavailable",
        )
            .into_response()
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

pub async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(CONTENT_TYPE, TEXT)], "Not found").into_response()
}
