//! The limits the outbox functions enforce on their arguments have one home, the SQL:
//! `auth.sender_limits()` describes them, and the sender reads it once connected and refuses
//! to start with options those functions would refuse later, one call at a time (a
//! `--retry-base` above the SQL's cap would make every failure unrecordable, so a failing
//! email would be claimed again forever). Patterns are matched by PostgreSQL itself, so both
//! sides read them with the same regular-expression engine.

use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio_postgres::{Client, Row};

use crate::database;

/// The channel `nile_reset.notify_channel` defaults to; clap needs it before any database is
/// reachable. A test compares it with `auth.sender_limits().default_channel`.
pub const DEFAULT_CHANNEL: &str = "nile_reset_email";

/// What this sender will ask of the outbox functions.
pub struct Request<'a> {
    pub channel: &'a str,
    pub worker: &'a str,
    pub batch_size: u16,
    pub lease: Duration,
    pub max_attempts: u16,
    pub retry_base: Duration,
    pub relay_retry_max: Duration,
}

/// `auth.sender_limits()`, with the request's names already matched against its patterns.
#[derive(Debug)]
struct Limits {
    default_channel: String,
    channel_pattern: String,
    channel_matches: bool,
    worker_pattern: String,
    worker_matches: bool,
    worker_max_length: i32,
    max_attempts_limit: i32,
    backoff_base_limit: Duration,
    lease_min: Duration,
    lease_max: Duration,
    batch_size_limit: i32,
}

/// Reads the limits and refuses, with every reason at once, a request outside them.
pub async fn check(client: &Client, request: &Request<'_>) -> anyhow::Result<()> {
    let row = client
        .query_one(
            "SELECT default_channel,
                    channel_pattern, $1::text ~ channel_pattern AS channel_matches,
                    worker_pattern, $2::text ~ worker_pattern AS worker_matches,
                    worker_max_length, max_attempts_limit,
                    extract(epoch FROM backoff_base_limit)::float8 AS backoff_base_limit,
                    extract(epoch FROM lease_min)::float8 AS lease_min,
                    extract(epoch FROM lease_max)::float8 AS lease_max,
                    batch_size_limit
             FROM auth.sender_limits()",
            &[&request.channel, &request.worker],
        )
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "cannot read auth.sender_limits(): {}",
                database::describe(&error)
            )
        })?;
    let limits = Limits::from_row(&row).context("auth.sender_limits() answered oddly")?;
    let refusals = limits.refusals(request);
    if !refusals.is_empty() {
        bail!(
            "the extension's limits (auth.sender_limits()) refuse these options:\n  {}",
            refusals.join("\n  ")
        );
    }
    if request.channel != limits.default_channel {
        tracing::info!(
            channel = request.channel,
            "not the default channel: nile_reset.notify_channel must name the same"
        );
    }
    Ok(())
}

impl Limits {
    fn from_row(row: &Row) -> anyhow::Result<Limits> {
        let seconds = |name: &str| -> anyhow::Result<Duration> {
            let value: f64 = row.try_get(name)?;
            Duration::try_from_secs_f64(value).with_context(|| format!("{name} is {value} s"))
        };
        Ok(Limits {
            default_channel: row.try_get("default_channel")?,
            channel_pattern: row.try_get("channel_pattern")?,
            channel_matches: row.try_get("channel_matches")?,
            worker_pattern: row.try_get("worker_pattern")?,
            worker_matches: row.try_get("worker_matches")?,
            worker_max_length: row.try_get("worker_max_length")?,
            max_attempts_limit: row.try_get("max_attempts_limit")?,
            backoff_base_limit: seconds("backoff_base_limit")?,
            lease_min: seconds("lease_min")?,
            lease_max: seconds("lease_max")?,
            batch_size_limit: row.try_get("batch_size_limit")?,
        })
    }

    /// One line per option the SQL would refuse.
    fn refusals(&self, request: &Request<'_>) -> Vec<String> {
        let mut refusals = Vec::new();
        if !self.channel_matches {
            refusals.push(format!(
                "--channel {:?} does not match {}",
                request.channel, self.channel_pattern
            ));
        }
        let worker_length = request.worker.chars().count();
        if !self.worker_matches
            || worker_length > usize::try_from(self.worker_max_length).unwrap_or(0)
        {
            refusals.push(format!(
                "--worker-id must match {} and be at most {} characters",
                self.worker_pattern, self.worker_max_length
            ));
        }
        if i32::from(request.batch_size) > self.batch_size_limit {
            refusals.push(format!(
                "--batch-size {} is above {}",
                request.batch_size, self.batch_size_limit
            ));
        }
        if i32::from(request.max_attempts) > self.max_attempts_limit {
            refusals.push(format!(
                "--max-attempts {} is above {}",
                request.max_attempts, self.max_attempts_limit
            ));
        }
        if request.retry_base > self.backoff_base_limit {
            refusals.push(format!(
                "--retry-base {} is above {}",
                human(request.retry_base),
                human(self.backoff_base_limit)
            ));
        }
        if request.relay_retry_max > self.backoff_base_limit {
            refusals.push(format!(
                "--relay-retry-max {} is above {}",
                human(request.relay_retry_max),
                human(self.backoff_base_limit)
            ));
        }
        if request.lease < self.lease_min || request.lease > self.lease_max {
            refusals.push(format!(
                "--lease {} is outside {} to {}",
                human(request.lease),
                human(self.lease_min),
                human(self.lease_max)
            ));
        }
        refusals
    }
}

fn human(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            default_channel: DEFAULT_CHANNEL.into(),
            channel_pattern: "^[A-Za-z0-9_]{1,63}$".into(),
            channel_matches: true,
            worker_pattern: "^[!-~]+$".into(),
            worker_matches: true,
            worker_max_length: 200,
            max_attempts_limit: 1000,
            backoff_base_limit: Duration::from_secs(3600),
            lease_min: Duration::from_secs(1),
            lease_max: Duration::from_secs(86_400),
            batch_size_limit: 1000,
        }
    }

    fn request(worker: &str) -> Request<'_> {
        Request {
            channel: DEFAULT_CHANNEL,
            worker,
            batch_size: 20,
            lease: Duration::from_secs(60),
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            relay_retry_max: Duration::from_secs(300),
        }
    }

    #[test]
    fn the_defaults_are_within_the_limits() {
        assert_eq!(
            limits().refusals(&request("host-1-abc")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_option_beyond_its_limit_is_named() {
        let long_worker = "w".repeat(201);
        let request = Request {
            batch_size: 1001,
            lease: Duration::from_secs(2 * 86_400),
            max_attempts: 1001,
            retry_base: Duration::from_secs(7200),
            relay_retry_max: Duration::from_secs(7200),
            ..request(&long_worker)
        };
        let refusals = limits().refusals(&request);
        for flag in [
            "--worker-id",
            "--batch-size",
            "--lease",
            "--max-attempts",
            "--retry-base 2h",
            "--relay-retry-max 2h",
        ] {
            assert!(
                refusals.iter().any(|line| line.starts_with(flag)),
                "{flag} missing from {refusals:?}"
            );
        }
        assert_eq!(refusals.len(), 6, "{refusals:?}");
    }

    #[test]
    fn pattern_answers_from_the_database_are_obeyed() {
        let limits = Limits {
            channel_matches: false,
            worker_matches: false,
            ..limits()
        };
        let refusals = limits.refusals(&request("x"));
        assert!(refusals[0].starts_with("--channel"), "{refusals:?}");
        assert!(refusals[1].starts_with("--worker-id"), "{refusals:?}");
    }

    #[test]
    fn a_lease_below_the_minimum_is_refused() {
        let request = Request {
            lease: Duration::from_millis(10),
            ..request("w")
        };
        assert_eq!(limits().refusals(&request).len(), 1);
    }
}
