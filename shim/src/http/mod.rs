//! `nile-reset serve`: Nile's reset-password HTTP API in front of the nile_reset extension.
//!
//! The handlers are thin adapters. Every rule about tokens, origins, users and passwords lives
//! in SQL (`auth.generate_password_token` and friends); this module only speaks HTTP: it parses
//! requests, keeps Nile's cookie-based CSRF and reset-token binding (which Nile also keeps in
//! its HTTP layer), and maps SQL errors to Nile's status codes.

mod config;
mod cookies;
mod databases;
mod error;
mod extract;
mod keys;
mod logging;
mod metrics;
mod observe;
mod queries;
mod routes;
mod secret;
mod state;

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

pub use config::ServeArgs;

/// Runs the HTTP server until SIGTERM or SIGINT, then drains in-flight requests and returns.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    logging::init(args.log_format);
    let state = Arc::new(state::AppState::from_args(&args)?);
    let app = routes::router(state.clone(), &args);

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    // The one line on stdout: lets a supervisor (or a test) that asked for port 0 find us.
    println!("listening on http://{address}");
    tracing::info!(%address, databases = state.databases.len(), "serving");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("HTTP server failed")?;
    state.databases.close();
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on the first SIGTERM (service managers) or SIGINT (a terminal).
async fn shutdown_signal() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
