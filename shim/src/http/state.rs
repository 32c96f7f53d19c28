//! What every handler shares: configuration resolved once at startup.

use std::time::Duration;

use url::Url;

use super::config::ServeArgs;
use super::databases::Databases;
use super::keys::ApiKeys;
use super::metrics::Metrics;
use super::secret::Secret;

pub struct AppState {
    pub databases: Databases,
    pub secret: Secret,
    pub api_keys: ApiKeys,
    pub public_url: Option<Url>,
    pub metrics: Metrics,
    /// Bound on each /healthz check.
    pub db_timeout: Duration,
}

impl AppState {
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<AppState> {
        let secret = Secret::load(args.secret_file.as_deref(), args.production)?;
        let api_keys = ApiKeys::load(args.api_keys_file.as_deref())?;
        if api_keys.is_empty() {
            tracing::info!("no API key configured: ?json=true requests will get 401");
        }
        let metrics = Metrics::new();
        let databases = Databases::from_args(args, &metrics)?;
        Ok(AppState {
            databases,
            secret,
            api_keys,
            public_url: args.public_url.clone(),
            metrics,
            db_timeout: args.db_timeout,
        })
    }
}
