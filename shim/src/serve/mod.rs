//! `nile-reset serve`: Nile's reset-password HTTP API in front of the nile_reset extension.
//!
//! The handlers are thin adapters. Every rule about tokens, origins, users and passwords lives
//! in SQL (`auth.generate_password_token` and friends); this module only speaks HTTP: it parses
//! requests, keeps Nile's cookie-based CSRF and reset-token binding (which Nile also keeps in
//! its HTTP layer), and maps SQL errors to Nile's status codes.
//!
//! [`ServeConfig`] is the whole configuration as plain values; [`routers`] turns it into the
//! axum applications (no connection is opened until a request needs one), which tests can drive
//! in-process. [`run`] serves exactly those, adding what a process needs: options, logging, the
//! extension check, sockets and shutdown.

mod callback_url;
mod cookies;
mod databases;
mod error;
mod extract;
mod keys;
mod metrics;
mod observe;
mod options;
mod pages;
mod password_policy;
mod rate_limit;
mod routes;
mod secret;
mod sql_api;
mod state;
#[cfg(test)]
mod test_headers;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::http::HeaderName;
use axum::Router;
use tokio::net::TcpListener;
use url::Url;

use crate::admin::AdminListener;
use crate::http_server;
use crate::logging;
use crate::shutdown::Shutdown;
pub use keys::ApiKeys;
pub use options::{NamedDatabase, ServeOptions};
pub use pages::Pages;
pub use secret::Secret;
use state::AppState;

/// Placeholder for the database name in --dsn-template.
const NAME_PLACEHOLDER: &str = "{database}";

/// Everything the HTTP application needs, resolved: nothing is read from files or the
/// environment past this point.
pub struct ServeConfig {
    /// The databases served, by the name that appears in request paths.
    pub databases: Vec<NamedDatabase>,
    /// Signs the CSRF and reset cookies.
    pub secret: Secret,
    /// Keys allowed to ask for reset links with `?json=true`, each for its database.
    pub api_keys: ApiKeys,
    /// Decides secure cookies when a request's headers do not.
    pub public_url: Option<Url>,
    /// Largest accepted request body, in bytes (413 beyond).
    pub body_limit: usize,
    /// Time limit of one auth request (503 beyond); also the connections' statement_timeout.
    pub request_timeout: Duration,
    /// Time limit for getting a connection; also bounds each /healthz check.
    pub db_timeout: Duration,
    /// Largest number of connections kept per database.
    pub pool_size: usize,
    /// Requests to the reset routes (POST, GET and PUT) and the CSRF route per client and
    /// minute; 0: no limit.
    pub rate_limit_per_minute: u32,
    /// Header a trusted proxy puts the client's address in (its last entry counts); without
    /// it, the socket's peer address.
    pub client_ip_header: Option<HeaderName>,
    /// The rate limit counts an IPv6 client per network of this many leading bits.
    pub ipv6_prefix_length: u8,
    /// Answer 201 to every reset request without an API key.
    pub uniform_status: bool,
    /// Least time a reset request takes to answer (zero: no floor).
    pub min_response_time: Duration,
    /// The reference pages (`serve --pages`); `None` leaves them out, as `serve` does by
    /// default.
    pub pages: Option<Pages>,
}

impl ServeConfig {
    /// Resolves the options: expands --dsn-template, reads the cookie secret and the API keys
    /// from their files or the environment, loads the pages.
    pub fn from_options(options: &ServeOptions) -> anyhow::Result<ServeConfig> {
        let mut databases: Vec<NamedDatabase> = options
            .databases
            .iter()
            .flat_map(|entries| entries.0.iter().cloned())
            .collect();
        if let Some(template) = &options.dsn_template {
            if !template.contains(NAME_PLACEHOLDER) {
                bail!("--dsn-template must contain {NAME_PLACEHOLDER}");
            }
            databases.extend(options.allowed_databases.iter().map(|name| NamedDatabase {
                name: name.clone(),
                dsn: template.replace(NAME_PLACEHOLDER, name),
            }));
        }
        let secret = Secret::load(options.secret_file.as_deref(), options.production)?;
        let served: Vec<&str> = databases.iter().map(|db| db.name.as_str()).collect();
        let api_keys = ApiKeys::load(options.api_keys_file.as_deref(), &served)?;
        if api_keys.is_empty() {
            tracing::info!("no API key configured: ?json=true requests will get 401");
        }
        Ok(ServeConfig {
            databases,
            secret,
            api_keys,
            public_url: options.public_url.clone(),
            body_limit: options.body_limit,
            request_timeout: options.request_timeout,
            db_timeout: options.db_timeout,
            pool_size: options.pool_size,
            rate_limit_per_minute: options.rate_limit_per_minute,
            client_ip_header: options.client_ip_header.clone(),
            ipv6_prefix_length: options.ipv6_prefix_length,
            uniform_status: options.uniform_status,
            min_response_time: options.min_response_time,
            pages: options.pages()?,
        })
    }
}

/// The public HTTP application: routes, layers and one lazily connecting pool per database.
pub fn router(config: ServeConfig) -> anyhow::Result<Router> {
    Ok(routers(config)?.public)
}

/// The two applications, sharing their state (the public one's requests show in the admin
/// one's metrics).
pub struct Routers {
    pub public: Router,
    /// `/healthz` and `/metrics`.
    pub admin: Router,
    /// What [`run`] needs besides: the start-up check and closing the pools.
    state: Arc<AppState>,
}

/// The applications of `config`, with its pages (if any) in the public one.
pub fn routers(mut config: ServeConfig) -> anyhow::Result<Routers> {
    let limits = routes::Limits::of(&config);
    let pages = config.pages.take().map(Arc::new);
    let state = Arc::new(AppState::new(config)?);
    Ok(Routers {
        public: routes::router(state.clone(), limits, pages),
        admin: routes::admin_router(state.clone()),
        state,
    })
}

/// Runs the HTTP server (and the admin server, with --admin-listen) until SIGTERM or SIGINT,
/// then drains in-flight requests and returns.
pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    let mut shutdown = Shutdown::install()?;
    logging::init(options.common.log_format);
    let config = ServeConfig::from_options(&options)?;
    if let Some(pages) = &config.pages {
        tracing::info!(languages = ?pages.languages(), "serving the reference pages");
    }
    let Routers {
        public,
        admin,
        state,
    } = routers(config)?;
    state.databases.check_extensions(state.db_timeout).await?;

    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    let admin_listener = AdminListener::bind(options.common.admin_listen).await?;
    // The line on stdout: let a supervisor (or a test) that asked for port 0 find us.
    println!("listening on http://{address}");
    admin_listener.announce()?;
    tracing::info!(%address, databases = state.databases.len(), "serving");

    let stop = shutdown.token();
    let limits = options.connection_limits();
    let public = http_server::serve(listener, public, limits, stop.clone());
    let admin = admin_listener.serve(admin, limits, stop);
    let signal = async {
        let signal = shutdown.requested().await;
        tracing::info!(signal, "shutdown requested; finishing in-flight requests");
    };
    let (public, admin, ()) = tokio::join!(public, admin, signal);
    public.context("HTTP server failed")?;
    admin.context("admin HTTP server failed")?;
    state.databases.close();
    tracing::info!("stopped");
    Ok(())
}
