//! The sender's admin routes, for --admin-listen (served by [`crate::admin`]): /metrics and
//! /healthz.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::listener::Session;
use super::metrics::Metrics;
use super::outbox::Outbox;
use crate::database::EXTENSION_VERSION;
use crate::openmetrics;

/// Bounds each /healthz check: a probe waiting longer has given up already.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Admin {
    metrics: Arc<Metrics>,
    outbox: Outbox,
    session: Session,
}

pub fn router(metrics: Arc<Metrics>, outbox: Outbox, session: Session) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .with_state(Admin {
            metrics,
            outbox,
            session,
        })
}

async fn scrape(State(admin): State<Admin>) -> Response {
    admin.metrics.refresh_queue_gauges(&admin.outbox).await;
    openmetrics::response(admin.metrics.registry())
}

/// 200 when the outbox's database answers in time with the extension version this binary was
/// built for, else 503 (why is logged). `listening` says whether the LISTEN session is up: without
/// it the sender still delivers, by polling, so it does not make the sender unhealthy.
async fn healthz(State(admin): State<Admin>) -> Response {
    let listening = admin.session.current().is_some();
    let version = match tokio::time::timeout(HEALTH_TIMEOUT, admin.outbox.extension_version()).await
    {
        Ok(Ok(version)) => Some(version),
        Ok(Err(error)) => {
            tracing::warn!(error = %format!("{error:#}"), "health check failed");
            None
        }
        Err(_) => {
            tracing::warn!("health check timed out");
            None
        }
    };
    match version {
        Some(version) => {
            let body =
                json!({ "status": "ok", "extension_version": version, "listening": listening });
            (StatusCode::OK, Json(body)).into_response()
        }
        None => {
            let body = json!({ "status": "unavailable", "built_for": EXTENSION_VERSION, "listening": listening });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
