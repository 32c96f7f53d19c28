//! Command-line options of `nile-reset send`; every one can also come from
//! the environment. The SMTP password comes from the environment or a file,
//! not both (see [`crate::secrets`]). Limits that the SQL functions enforce
//! are checked against `auth.sender_limits()` at start-up (limits.rs), not here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::limits::DEFAULT_CHANNEL;
use crate::duration;
use crate::options::CommonOptions;

#[derive(Args)]
pub struct SendOptions {
    /// PostgreSQL URL of the database holding the nile_reset outbox.
    #[arg(long, env = "NILE_RESET_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// How emails leave: over SMTP, or as one .eml file each in --outbox-dir (development).
    #[arg(long, env = "NILE_RESET_TRANSPORT", value_enum, default_value_t = TransportKind::File)]
    pub transport: TransportKind,

    /// Folder the file transport writes to (created, private to the user, when missing).
    #[arg(long, env = "NILE_RESET_OUTBOX_DIR", default_value = "mail-outbox")]
    pub outbox_dir: PathBuf,

    /// SMTP server: `smtp://host[:port]` (plain text, port 25),
    /// `smtp://host[:port]?tls=starttls` (STARTTLS required, port 587),
    /// `smtp://...?tls=opportunistic`, or `smtps://host[:port]` (implicit TLS,
    /// port 465). Credentials do not belong in the URL.
    #[arg(long, env = "NILE_RESET_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// SMTP AUTH user name. The password comes from the environment variable
    /// NILE_RESET_SMTP_PASSWORD or from --smtp-password-file (not both), never from the
    /// command line.
    #[arg(long, env = "NILE_RESET_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// File whose content (one line) is the SMTP AUTH password.
    #[arg(long, env = "NILE_RESET_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,

    /// Timeout of each SMTP command (e.g. 30s, 500ms).
    #[arg(long, env = "NILE_RESET_SMTP_TIMEOUT", value_parser = duration::parse, default_value = "30s")]
    pub smtp_timeout: Duration,

    /// How often to look for due emails when no notification arrives.
    #[arg(long, env = "NILE_RESET_POLL_INTERVAL", value_parser = duration::parse, default_value = "5s")]
    pub poll_interval: Duration,

    /// Emails claimed per database round trip (at most auth.sender_limits().batch_size_limit).
    #[arg(long, env = "NILE_RESET_BATCH_SIZE", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub batch_size: u16,

    /// Emails sent at the same time (and SMTP connections kept open).
    #[arg(long, env = "NILE_RESET_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub concurrency: u16,

    /// How long a claim protects an email from other senders (within
    /// auth.sender_limits().lease_min and lease_max). Sends that have not
    /// started within 3/4 of it are given back instead.
    #[arg(long, env = "NILE_RESET_LEASE", value_parser = duration::parse, default_value = "60s")]
    pub lease: Duration,

    /// Failed attempts after which an email is given up (marked dead; at
    /// most auth.sender_limits().max_attempts_limit).
    #[arg(long, env = "NILE_RESET_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_attempts: u16,

    /// Delay before the first retry (at most auth.sender_limits().backoff_base_limit);
    /// it doubles with each failure, capped at an hour, with jitter.
    #[arg(long, env = "NILE_RESET_RETRY_BASE", value_parser = duration::parse, default_value = "5s")]
    pub retry_base: Duration,

    /// While the SMTP relay cannot be reached (connect, greeting, TLS), the
    /// emails it could not take are given back without spending an attempt,
    /// nothing is claimed, and one connection attempt probes the relay after
    /// --retry-base, then twice as long after each further failure, at most
    /// this long and never more than 5 s apart (at most
    /// auth.sender_limits().backoff_base_limit). Once a probe gets through,
    /// the emails are claimed and sent at once.
    #[arg(long, env = "NILE_RESET_RELAY_RETRY_MAX", value_parser = duration::parse, default_value = "5m")]
    pub relay_retry_max: Duration,

    /// Name this sender holds its claims under (default: hostname-pid-random);
    /// must match auth.sender_limits().worker_pattern.
    #[arg(long, env = "NILE_RESET_WORKER_ID")]
    pub worker_id: Option<String>,

    /// NOTIFY channel that wakes the sender up (nile_reset.notify_channel);
    /// must match auth.sender_limits().channel_pattern.
    #[arg(long, env = "NILE_RESET_CHANNEL", default_value = DEFAULT_CHANNEL)]
    pub channel: String,

    /// On SIGTERM/SIGINT, how long to keep sending what is already claimed
    /// before giving the rest back and exiting.
    #[arg(long, env = "NILE_RESET_SHUTDOWN_GRACE", value_parser = duration::parse, default_value = "10s")]
    pub shutdown_grace: Duration,

    // --admin-listen and --log-format.
    #[command(flatten)]
    pub common: CommonOptions,

    /// Deprecated: the former name of --admin-listen, which it means (a warning at start).
    #[arg(
        long,
        env = "NILE_RESET_METRICS_ADDR",
        value_name = "ADDRESS",
        conflicts_with = "admin_listen"
    )]
    pub metrics_addr: Option<SocketAddr>,
}

impl SendOptions {
    /// Where /healthz and /metrics are served: --admin-listen, or the deprecated
    /// --metrics-addr (the two cannot both be given).
    pub fn admin_listen(&self) -> Option<SocketAddr> {
        self.common.admin_listen.or(self.metrics_addr)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportKind {
    Smtp,
    File,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::LogFormat;
    use crate::options::parse_without_env;

    const URL: [&str; 2] = ["--database-url", "postgres://localhost/app"];

    fn parse(args: &[&str]) -> Result<SendOptions, clap::Error> {
        parse_without_env(&[&URL[..], args].concat())
    }

    #[test]
    fn metrics_addr_is_a_deprecated_name_of_admin_listen() {
        let address: SocketAddr = "127.0.0.1:9187".parse().unwrap();
        let options = parse(&["--admin-listen", "127.0.0.1:9187"]).unwrap();
        assert_eq!(options.admin_listen(), Some(address));
        assert_eq!(options.metrics_addr, None);
        let options = parse(&["--metrics-addr", "127.0.0.1:9187"]).unwrap();
        assert_eq!(options.admin_listen(), Some(address));
        assert_eq!(parse(&[]).unwrap().admin_listen(), None);
        let both = [
            "--admin-listen",
            "127.0.0.1:1",
            "--metrics-addr",
            "127.0.0.1:2",
        ];
        assert!(parse(&both).is_err());
    }

    #[test]
    fn logs_are_text_by_default() {
        assert_eq!(parse(&[]).unwrap().common.log_format, LogFormat::Text);
    }
}
