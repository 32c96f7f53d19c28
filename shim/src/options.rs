//! The options both subcommands take, defined once and flattened into each: one flag, one
//! environment variable and one default for each.

use std::net::SocketAddr;

use clap::Args;

use crate::logging::LogFormat;

#[derive(Args, Clone, Debug)]
pub struct CommonOptions {
    /// Address serving /healthz and /metrics (e.g. 127.0.0.1:9090; port 0 picks one and prints
    /// it on stdout). Without it they are not served at all: never on a public address.
    #[arg(long, env = "NILE_RESET_ADMIN_LISTEN", value_name = "ADDRESS")]
    pub admin_listen: Option<SocketAddr>,

    /// Log format on stderr. RUST_LOG filters as usual (default: info).
    #[arg(
        long,
        env = "NILE_RESET_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Parses a subcommand's options from `args` alone, every environment variable ignored (the
/// test process's environment may set any of them).
#[cfg(test)]
pub fn parse_without_env<T: clap::FromArgMatches + Args>(args: &[&str]) -> Result<T, clap::Error> {
    let command = T::augment_args(clap::Command::new("nile-reset")).mut_args(|arg| arg.env(None));
    let matches =
        command.try_get_matches_from(std::iter::once("nile-reset").chain(args.iter().copied()))?;
    T::from_arg_matches(&matches)
}
