//! The admin server of both subcommands: /healthz and /metrics on an address of their own
//! (--admin-listen), never on a public one, behind the same accept loop as serve's API
//! ([`crate::http_server`]: connection cap, header-read and idle timeouts). Each subcommand
//! brings its own router.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http_server::{self, ConnectionLimits};

/// The admin listener, bound or not configured.
pub struct AdminListener(Option<TcpListener>);

impl AdminListener {
    /// Binds at start, so that a taken port fails the start rather than a scrape.
    pub async fn bind(address: Option<SocketAddr>) -> anyhow::Result<AdminListener> {
        let Some(address) = address else {
            return Ok(AdminListener(None));
        };
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (--admin-listen)"))?;
        Ok(AdminListener(Some(listener)))
    }

    /// Prints the stdout line that lets a supervisor (or a test) that asked for port 0 find the
    /// admin server, or logs that there is none.
    pub fn announce(&self) -> anyhow::Result<()> {
        match &self.0 {
            Some(listener) => println!("admin listening on http://{}", listener.local_addr()?),
            None => tracing::info!("no --admin-listen: /healthz and /metrics are not served"),
        }
        Ok(())
    }

    /// Serves `app` until `stop` is cancelled; returns at once when not configured.
    pub async fn serve(
        self,
        app: Router,
        limits: ConnectionLimits,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        match self.0 {
            Some(listener) => http_server::serve(listener, app, limits, stop).await,
            None => Ok(()),
        }
    }
}
