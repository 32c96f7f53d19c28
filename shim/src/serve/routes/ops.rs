//! Operational routes: health, metrics, the API description, and the fallback.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::future::join_all;
use serde_json::json;

use crate::database::EXTENSION_VERSION;
use crate::openmetrics;
use crate::serve::state::AppState;

/// The OpenAPI document of this server, compiled in so it always matches the binary.
const OPENAPI: &str = include_str!("../../../openapi.yaml");

const TEXT: &str = "text/plain; charset=utf-8";

/// 200 when every configured database answers in time with the extension version this binary
/// was built for, else 503. The body names the version, never a database: which one failed, and
/// why, is logged.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let timeout = state.db_timeout;
    let checks = state.databases.iter().map(|db| async move {
        match tokio::time::timeout(timeout, db.extension_version()).await {
            Ok(version) => version, // failures already logged and counted
            Err(_) => {
                tracing::warn!(database = db.name(), "health check timed out");
                None
            }
        }
    });
    // All equal when all present: each must be the version this binary was built for.
    let versions: Option<Vec<String>> = join_all(checks).await.into_iter().collect();
    match versions.as_deref() {
        Some([installed, ..]) => {
            let body = json!({ "status": "ok", "extension_version": installed });
            (StatusCode::OK, Json(body)).into_response()
        }
        _ => {
            let body = json!({ "status": "unavailable", "built_for": EXTENSION_VERSION });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    openmetrics::response(state.metrics.registry())
}

pub async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(CONTENT_TYPE, TEXT)], "Not found").into_response()
}
