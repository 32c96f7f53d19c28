//! `nile-reset send`: delivers the emails queued in the outbox (nile_reset.email_outbox).
//!
//! Delivery is at-least-once. Emails are claimed under a lease through the
//! functions of sql/sender.sql; a sender that dies leaves its leases to
//! expire, and another sender (or its restart) sends those emails again.
//! A NOTIFY wakes the sender at once (wakeup.rs); polling covers lost ones.
//! Logs name an email by outbox id and kind only: bodies hold reset links.

mod admin;
mod limits;
mod listener;
mod mailer;
mod message;
mod metrics;
mod options;
mod outbox;
mod smtp;
mod wakeup;
mod worker;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::admin::AdminListener;
use crate::backoff::Backoff;
use crate::database;
use crate::http_server::ConnectionLimits;
use crate::logging;
use crate::shutdown::Shutdown;
pub use limits::DEFAULT_CHANNEL;
use mailer::Mailer;
use metrics::Metrics;
pub use options::{SendOptions, TransportKind};
use outbox::{Outbox, RetryPolicy};
use worker::{Pacing, Worker};

/// Bounds waiting for a pooled connection and opening one.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(options: SendOptions) -> anyhow::Result<()> {
    let mut shutdown = Shutdown::install()?;
    logging::init(options.common.log_format);
    if options.metrics_addr.is_some() {
        tracing::warn!("--metrics-addr (NILE_RESET_METRICS_ADDR) is deprecated: use --admin-listen (NILE_RESET_ADMIN_LISTEN), which also serves /healthz");
    }
    let worker_id = options.worker_id.clone().unwrap_or_else(default_worker_id);
    let database = database::connection_config(&options.database_url, "nile-reset send")?;
    let concurrency = usize::from(options.concurrency);
    let mailer = mailer(&options)?;
    // One connection per concurrent send, plus claims and admin requests.
    let pool = database::pool(database.clone(), concurrency + 2, DATABASE_TIMEOUT)?;

    // Nothing is claimed before the extension and its limits have agreed to every option.
    let client = tokio::select! {
        client = database::wait_for_connection(&pool) => client?,
        signal = shutdown.requested() => {
            tracing::info!(signal, "stopped before the database could be reached");
            return Ok(());
        }
    };
    let extension_version = database::check_extension(&client).await?;
    limits::check(
        &client,
        &limits::Request {
            channel: &options.channel,
            worker: &worker_id,
            batch_size: options.batch_size,
            lease: options.lease,
            max_attempts: options.max_attempts,
            retry_base: options.retry_base,
            relay_retry_max: options.relay_retry_max,
        },
    )
    .await?;
    drop(client);

    let retry = RetryPolicy {
        max_attempts: options.max_attempts,
        base: options.retry_base,
    };
    let outbox = Outbox::new(pool, worker_id, retry);
    let metrics = Arc::new(Metrics::new());
    let stop = shutdown.token();
    let wake = Arc::new(Notify::new());
    let session = listener::Session::default();

    let admin_listener = AdminListener::bind(options.admin_listen()).await?;
    admin_listener.announce()?;
    let admin_app = admin::router(metrics.clone(), outbox.clone(), session.clone());
    // send has no flags for these bounds: serve's defaults.
    let admin = admin_listener.serve(admin_app, ConnectionLimits::default(), stop.clone());
    tokio::spawn(async move {
        if let Err(error) = admin.await {
            tracing::error!(error = %format!("{error:#}"), "the admin server failed");
        }
    });
    // The LISTEN session outlives the worker: the stop is announced on it. So it has a token
    // of its own, cancelled once the worker is done (or when run returns, whichever way).
    let close_session = CancellationToken::new();
    let _close_session_on_return = close_session.clone().drop_guard();
    let listening = tokio::spawn(listener::run(
        database,
        options.channel.clone(),
        wake.clone(),
        session.clone(),
        close_session.clone(),
    ));
    let announcer = wakeup::WakeUps::new(wake.clone(), session.clone(), options.channel.clone());
    let wake_ups = wakeup::WakeUps::new(wake, session, options.channel.clone());
    let pacing = Pacing {
        poll_interval: options.poll_interval,
        batch_size: options.batch_size,
        concurrency,
        lease: options.lease,
    };
    let worker = Worker {
        outbox: outbox.clone(),
        mailer,
        metrics,
        pacing,
        relay_backoff: Mutex::new(Backoff::new(
            options.retry_base,
            options.relay_retry_max.min(worker::PROBE_CEILING),
        )),
        relay_down: AtomicBool::new(false),
    };
    let mut working = tokio::spawn(worker.run(wake_ups, stop));
    tracing::info!(
        worker = outbox.worker(),
        transport = ?options.transport,
        extension_version,
        "sender started"
    );

    // The signal cancels the worker's and the admin server's token.
    tokio::select! {
        signal = shutdown.requested() => tracing::info!(signal, "stopping: finishing the emails in hand"),
        ended = &mut working => bail!("the sender stopped unexpectedly: {}", describe(ended)),
    }
    if tokio::time::timeout(options.shutdown_grace, &mut working)
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
    announcer.stop().await;
    close_session.cancel();
    let _ = listening.await;
    Ok(())
}

fn describe(ended: Result<(), tokio::task::JoinError>) -> String {
    match ended {
        Ok(()) => "it returned".into(),
        Err(error) => error.to_string(),
    }
}

fn mailer(options: &SendOptions) -> anyhow::Result<Mailer> {
    match options.transport {
        TransportKind::File => Mailer::file(&options.outbox_dir).with_context(|| {
            format!(
                "cannot create the outbox folder {}",
                options.outbox_dir.display()
            )
        }),
        TransportKind::Smtp => {
            let Some(url) = options.smtp_url.as_deref() else {
                bail!("--transport smtp needs --smtp-url (or NILE_RESET_SMTP_URL)");
            };
            Ok(Mailer::Smtp(smtp::Relay::new(smtp::SmtpOptions {
                url,
                username: options.smtp_username.as_deref(),
                password_file: options.smtp_password_file.as_deref(),
                timeout: options.smtp_timeout,
            })?))
        }
    }
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
