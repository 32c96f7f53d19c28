//! What every handler shares: the configuration, resolved once at startup.

use std::time::Duration;

use url::Url;

use super::databases::Databases;
use super::keys::ApiKeys;
use super::metrics::Metrics;
use super::rate_limit::RateLimiter;
use super::secret::Secret;
use super::ServeConfig;

pub struct AppState {
    pub databases: Databases,
    pub secret: Secret,
    pub api_keys: ApiKeys,
    pub public_url: Option<Url>,
    pub metrics: Metrics,
    pub rate_limiter: RateLimiter,
    /// Answer 201 to every reset request without an API key.
    pub uniform_status: bool,
    /// Least time a reset request takes to answer.
    pub min_response_time: Duration,
    /// Bound on each /healthz check.
    pub db_timeout: Duration,
}

impl AppState {
    /// Builds one pool per database (no connection is opened yet).
    pub fn new(config: ServeConfig) -> anyhow::Result<AppState> {
        let metrics = Metrics::new();
        let databases = Databases::new(&config, &metrics)?;
        Ok(AppState {
            databases,
            secret: config.secret,
            api_keys: config.api_keys,
            public_url: config.public_url,
            metrics,
            rate_limiter: RateLimiter::new(
                config.rate_limit_per_minute,
                config.client_ip_header,
                config.ipv6_prefix_length,
            ),
            uniform_status: config.uniform_status,
            min_response_time: config.min_response_time,
            db_timeout: config.db_timeout,
        })
    }
}
