//! Structured logs on stderr (stdout only carries the bound address).

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::config::LogFormat;

/// Installs the global subscriber. RUST_LOG filters as usual (default `info`), except that
/// tokio-postgres never logs below `info`, whatever RUST_LOG says: at `debug` it logs every
/// query's parameters, which here are emails, reset tokens and new passwords.
pub fn init(format: LogFormat) {
    let env_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_query_parameters = filter_fn(|metadata| {
        !(metadata.target().starts_with("tokio_postgres") && *metadata.level() > Level::INFO)
    });
    let output = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // A subscriber may already be installed (e.g. by an embedding test); keep it then.
    let _ = tracing_subscriber::registry()
        .with(output.with_filter(env_filter.and(no_query_parameters)))
        .try_init();
}
