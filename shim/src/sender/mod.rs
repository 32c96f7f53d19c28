//! `nile-reset send`: delivers the emails queued in auth.email_outbox.
//!
//! Delivery is at-least-once. Emails are claimed under a lease through the
//! functions of sql/sender.sql; a sender that dies leaves its leases to
//! expire, and another sender (or its restart) sends those emails again.
//! A NOTIFY wakes the sender at once (wakeup.rs); polling covers lost ones.
//! Logs name an email by outbox id and kind only: bodies hold reset links.

mod args;
mod listener;
mod mailer;
mod message;
mod metrics;
mod outbox;
mod smtp;
mod wakeup;
mod worker;

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{watch, Notify};

pub use args::SendArgs;
use args::TransportKind;
use mailer::Mailer;
use metrics::Metrics;
use outbox::{Outbox, RetryPolicy};
use worker::Worker;

pub async fn run(args: SendArgs) -> anyhow::Result<()> {
    init_logging();
    // Installed first: until then SIGTERM would kill the process outright.
    let mut termination = Termination::install()?;
    check_channel(&args.channel)?;
    let worker_id = match args.worker_id.clone() {
        Some(id) => check_worker_id(id)?,
        None => default_worker_id(),
    };
    let database = database_config(&args.database_url)?;
    let concurrency = usize::from(args.concurrency);
    let mailer = mailer(&args)?;

    // One connection per concurrent send, plus claims and metrics scrapes.
    let pool = outbox::pool(database.clone(), concurrency + 2)?;
    let retry = RetryPolicy {
        max_attempts: args.max_attempts,
        base: args.retry_base,
    };
    let outbox = Outbox::new(pool, worker_id, retry);
    let metrics = Arc::new(Metrics::new());
    let (stop, stopping) = watch::channel(false);
    let wake = Arc::new(Notify::new());

    if let Some(addr) = args.metrics_addr {
        let listener = metrics::bind(addr).await?;
        tokio::spawn(metrics::serve(
            listener,
            metrics.clone(),
            outbox.clone(),
            stopping.clone(),
        ));
        tracing::info!(%addr, "serving metrics at /metrics");
    }
    let session = listener::Session::default();
    tokio::spawn(listener::run(
        database,
        args.channel.clone(),
        wake.clone(),
        session.clone(),
        stopping.clone(),
    ));
    let wake_ups = wakeup::WakeUps::new(wake, session, args.channel.clone());
    let settings = worker::Settings {
        poll_interval: args.poll_interval,
        batch_size: args.batch_size,
        concurrency,
        lease: args.lease,
    };
    let worker = Worker {
        outbox: outbox.clone(),
        mailer,
        metrics,
        settings,
    };
    let mut working = tokio::spawn(worker.run(wake_ups, stopping));
    tracing::info!(worker = outbox.worker(), transport = ?args.transport, "sender started");

    tokio::select! {
        signal = termination.wait() => tracing::info!(signal, "stopping: finishing the emails in hand"),
        ended = &mut working => bail!("the sender stopped unexpectedly: {}", describe(ended)),
    }
    let _ = stop.send(true);
    if tokio::time::timeout(args.shutdown_grace, &mut working)
        .await
        .is_err()
    {
        working.abort();
        tracing::warn!("shutdown grace period over: abandoning the sends in progress");
    }
    match outbox.release().await {
        Ok(released) => tracing::info!(released, "gave back unsent claims; bye"),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "cannot give back claims; they will expire")
        }
    }
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Another subcommand's setup may already have installed one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

struct Termination {
    terminate: Signal,
    interrupt: Signal,
}

impl Termination {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
        })
    }

    /// Resolves on SIGTERM or SIGINT, with the signal's name.
    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

fn describe(ended: Result<(), tokio::task::JoinError>) -> String {
    match ended {
        Ok(()) => "it returned".into(),
        Err(error) => error.to_string(),
    }
}

/// The URL may hold a password: errors describe the problem, not the URL.
fn database_config(url: &str) -> anyhow::Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| anyhow::anyhow!("the database URL is not valid ({e})"))?;
    if config.get_connect_timeout().is_none() {
        // Without it a connection attempt to a vanished host hangs for minutes.
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("nile-reset send");
    }
    Ok(config)
}

fn mailer(args: &SendArgs) -> anyhow::Result<Mailer> {
    match args.transport {
        TransportKind::File => Mailer::file(&args.outbox_dir).with_context(|| {
            format!(
                "cannot create the outbox folder {}",
                args.outbox_dir.display()
            )
        }),
        TransportKind::Smtp => {
            let Some(url) = args.smtp_url.as_deref() else {
                bail!("--transport smtp needs --smtp-url (or NILE_RESET_SMTP_URL)");
            };
            Ok(Mailer::Smtp(smtp::transport(smtp::SmtpOptions {
                url,
                username: args.smtp_username.as_deref(),
                password_file: args.smtp_password_file.as_deref(),
                timeout: args.smtp_timeout,
                connections: u32::from(args.concurrency),
            })?))
        }
    }
}

/// pg_notify refuses names of 64 bytes or more, and LISTEN would silently
/// truncate them: refuse them here so that both sides agree.
fn check_channel(channel: &str) -> anyhow::Result<()> {
    if channel.is_empty() || channel.len() > 63 || channel.contains('\0') {
        bail!("--channel must be 1 to 63 bytes long");
    }
    Ok(())
}

/// The same rule as the SQL functions apply, checked before any claim.
fn check_worker_id(id: String) -> anyhow::Result<String> {
    if id.is_empty() || id.chars().count() > 200 || !id.chars().all(|c| c.is_ascii_graphic()) {
        bail!("--worker-id must be 1 to 200 printable ASCII characters without spaces");
    }
    Ok(id)
}

/// hostname-pid-random: unique per process, and says where a lease comes from.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
