//! Command-line options of `nile-reset send`; every one can also come from
//! the environment, which is where secrets belong.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

#[derive(Args, Debug)]
pub struct SendArgs {
    /// PostgreSQL URL of the database holding auth.email_outbox.
    #[arg(long, env = "NILE_RESET_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// How emails leave: over SMTP, or as one .eml file each in --outbox-dir (development).
    #[arg(long, env = "NILE_RESET_TRANSPORT", value_enum, default_value_t = TransportKind::File)]
    pub transport: TransportKind,

    /// Folder the file transport writes to (created, private to the user, when missing).
    #[arg(long, env = "NILE_RESET_OUTBOX_DIR", default_value = "mail-outbox")]
    pub outbox_dir: PathBuf,

    /// SMTP server: smtp://host[:port] (plain text, port 25), smtp://host[:port]?tls=starttls
    /// (STARTTLS required, port 587), smtp://...?tls=opportunistic, or smtps://host[:port]
    /// (implicit TLS, port 465). Credentials do not belong in the URL.
    #[arg(long, env = "NILE_RESET_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// SMTP AUTH user name. The password comes from the environment variable
    /// NILE_RESET_SMTP_PASSWORD or from --smtp-password-file, never from the command line.
    #[arg(long, env = "NILE_RESET_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// File whose content (one line) is the SMTP AUTH password.
    #[arg(long, env = "NILE_RESET_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,

    /// Timeout of each SMTP command (e.g. 30s, 500ms).
    #[arg(long, env = "NILE_RESET_SMTP_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub smtp_timeout: Duration,

    /// How often to look for due emails when no notification arrives.
    #[arg(long, env = "NILE_RESET_POLL_INTERVAL", value_parser = parse_duration, default_value = "5s")]
    pub poll_interval: Duration,

    /// Emails claimed per database round trip (1 to 1000).
    #[arg(long, env = "NILE_RESET_BATCH_SIZE", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,

    /// Emails sent at the same time (and SMTP connections kept open).
    #[arg(long, env = "NILE_RESET_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub concurrency: u16,

    /// How long a claim protects an email from other senders. Sends that
    /// have not started within 3/4 of it are given back instead.
    #[arg(long, env = "NILE_RESET_LEASE", value_parser = parse_duration, default_value = "60s")]
    pub lease: Duration,

    /// Failed attempts after which an email is given up (marked dead).
    #[arg(long, env = "NILE_RESET_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub max_attempts: u16,

    /// Delay before the first retry; it doubles with each failure, capped at an hour, with jitter.
    #[arg(long, env = "NILE_RESET_RETRY_BASE", value_parser = parse_duration, default_value = "5s")]
    pub retry_base: Duration,

    /// Name this sender holds its claims under (default: hostname-pid-random).
    #[arg(long, env = "NILE_RESET_WORKER_ID")]
    pub worker_id: Option<String>,

    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9187).
    #[arg(long, env = "NILE_RESET_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// NOTIFY channel that wakes the sender up.
    #[arg(long, env = "NILE_RESET_CHANNEL", default_value = "nile_reset_email")]
    pub channel: String,

    /// On SIGTERM/SIGINT, how long to keep sending what is already claimed
    /// before giving the rest back and exiting.
    #[arg(long, env = "NILE_RESET_SHUTDOWN_GRACE", value_parser = parse_duration, default_value = "10s")]
    pub shutdown_grace: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportKind {
    Smtp,
    File,
}

/// Parses `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 500ms, 5s, 2m or 1h"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use ms, s, m or h)"
            ))
        }
    };
    let duration = Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))?;
    if duration.is_zero() {
        return Err("a duration must be positive".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn bad_durations_are_refused() {
        for text in ["", "s", "0", "0ms", "5d", "-1s", "1.2.3s", "five"] {
            assert!(parse_duration(text).is_err(), "{text} was accepted");
        }
    }
}
