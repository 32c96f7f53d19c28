//! Logs on stderr (stdout is reserved for the lines that say where the servers listen, printed
//! once they do: `listening on ...` and `admin listening on ...`).

use std::io::IsTerminal as _;

use clap::ValueEnum;
use tracing::Level;
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (log collectors).
    Json,
    /// `key=value` lines for people.
    Text,
}

/// Installs the global subscriber. RUST_LOG filters as usual (default `info`), except that
/// tokio-postgres never logs below `info`, whatever RUST_LOG says: at `debug` it logs every
/// query's parameters, which here are emails, reset tokens, new passwords and SMTP replies
/// that may quote a recipient.
pub fn init(format: LogFormat) {
    let env_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_query_parameters = filter_fn(|metadata| !is_query_parameter_log(metadata));
    let ansi = std::io::stderr().is_terminal();
    let output = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // A subscriber may already be installed (e.g. by an embedding test); keep it then.
    let _ = tracing_subscriber::registry()
        .with(output.with_filter(env_filter.and(no_query_parameters)))
        .try_init();
}

fn is_query_parameter_log(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target().starts_with("tokio_postgres") && *metadata.level() > Level::INFO
}
