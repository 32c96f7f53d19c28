//! `nile-reset serve` over real sockets against real PostgreSQL with the nile_reset extension,
//! a file per route of shim/openapi.yaml or per concern of the server. Each test has its own
//! database and its own server process; they share one cluster (the outage test, which stops
//! PostgreSQL, has its own).

mod admin;
mod ambiguous_urls;
mod api_keys;
mod app_tables;
mod connections;
mod csrf;
mod database_trouble;
mod lifecycle;
mod limits;
mod link_check;
mod owner_code;
mod pages;
mod password_change;
mod request_reset;
mod reset_flow;

use serde_json::{json, Value};

use crate::support::fixture::APP_ORIGIN;

/// Alice's reset request, with callback and redirect URLs on the trusted origin.
fn alice_request() -> Value {
    json!({
        "email": "alice@example.com",
        "callbackUrl": format!("{APP_ORIGIN}/signed-in"),
        "redirectUrl": format!("{APP_ORIGIN}/reset"),
    })
}
