//! The one way both subcommands answer a Prometheus scrape: a registry in the OpenMetrics text
//! format.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;

const CONTENT_TYPE_VALUE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry's OpenMetrics text exposition.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

/// A scrape's answer.
pub fn response(registry: &Registry) -> Response {
    ([(CONTENT_TYPE, CONTENT_TYPE_VALUE)], encode(registry)).into_response()
}
