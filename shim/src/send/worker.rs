//! The drain loop: wake up (notification or poll), claim a batch, send it,
//! record the outcomes (deliveries in groups, one round trip each), repeat
//! while batches come back full.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::{stream, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::mailer::{DeliveryError, Mailer};
use super::message;
use super::metrics::Metrics;
use super::outbox::{FailureOutcome, Outbox, OutboxEmail};
use super::wakeup::WakeUps;
use crate::backoff::Backoff;

pub struct Pacing {
    pub poll_interval: Duration,
    pub batch_size: u16,
    pub concurrency: usize,
    pub lease: Duration,
}

pub struct Worker {
    pub outbox: Outbox,
    pub mailer: Mailer,
    pub metrics: Arc<Metrics>,
    pub pacing: Pacing,
    /// The pause between two connection attempts while the relay cannot be reached:
    /// --retry-base, doubling up to --relay-retry-max (at most [`PROBE_CEILING`]), back to
    /// the base after any successful send.
    pub relay_backoff: Mutex<Backoff>,
    /// Set when a send could not reach the relay, cleared when a probe reaches it: an
    /// outage is the relay's state, so while it lasts nothing is claimed and no email
    /// tries its own connection.
    pub relay_down: AtomicBool,
}

/// The longest pause between two probes of an unreachable relay, whatever
/// --relay-retry-max says: the deferred emails go out as soon as a probe
/// gets through, so this bounds how long they wait after the relay is back.
pub const PROBE_CEILING: Duration = Duration::from_secs(5);

/// When the sends of one claimed batch must have started, and when recording
/// their outcome is still worth retrying.
#[derive(Clone, Copy)]
struct Deadlines {
    /// Sends start only before 3/4 of the lease: later, the send could outlive
    /// the lease and another sender could deliver the same email meanwhile.
    start_by: Instant,
    /// The lease end. Until then no other sender can have claimed the row, so
    /// an outcome not yet recorded (database down) can still be.
    lease_end: Instant,
}

/// How long an awake sender waits before looking again: after a drain that
/// found emails, and first after a failed attempt to sleep (that pause
/// doubles up to the poll interval while the attempts keep failing).
const FIRST_NAP: Duration = Duration::from_millis(10);

impl Worker {
    /// Runs until `shutdown` is cancelled; the batch in progress is finished
    /// (the caller bounds how long that may take).
    ///
    /// Between drains the worker sleeps as sql/wakeup.sql asks: take the
    /// sleep lock, drain once more (rows committed before the lock was ours
    /// sent no NOTIFY), then wait for a notification or the poll interval.
    /// Without the lock no NOTIFY is promised, so it looks again soon.
    pub async fn run(self, wake_ups: WakeUps, shutdown: CancellationToken) {
        let mut nap_when_awake = Backoff::new(FIRST_NAP, self.pacing.poll_interval);
        while !shutdown.is_cancelled() {
            // Emails found mean more are probably committing right now: stay
            // awake and look again shortly. Asleep, each of them would NOTIFY,
            // and notifying commits are serialized cluster-wide.
            if self.drain(&shutdown).await > 0 {
                nap_when_awake.reset();
                nap(&wake_ups, FIRST_NAP, &shutdown).await;
                continue;
            }
            let asleep = wake_ups.fall_asleep().await;
            let duration = if asleep.is_some() {
                self.drain(&shutdown).await;
                nap_when_awake.reset();
                tracing::debug!("asleep until notified");
                self.pacing.poll_interval
            } else {
                // The lock is held by transactions still committing their
                // emails, or by another sleeping sender.
                nap_when_awake.next_delay()
            };
            nap(&wake_ups, duration, &shutdown).await;
            if let Some(asleep) = asleep {
                asleep.wake_up().await;
            }
        }
    }

    /// Claims and sends until the outbox has nothing due; returns how many
    /// emails it claimed.
    async fn drain(&self, shutdown: &CancellationToken) -> usize {
        let mut claimed = 0;
        while !shutdown.is_cancelled() {
            if !self.wait_for_relay(shutdown).await {
                return claimed;
            }
            let claimed_at = Instant::now();
            let batch = match self
                .outbox
                .claim(self.pacing.batch_size, self.pacing.lease)
                .await
            {
                Ok(batch) => batch,
                Err(error) => {
                    // The next wake-up or the end of the nap tries again.
                    tracing::warn!(error = %format!("{error:#}"), "cannot claim emails");
                    return claimed;
                }
            };
            let full = batch.len() == usize::from(self.pacing.batch_size);
            if batch.is_empty() {
                return claimed;
            }
            claimed += batch.len();
            let deadlines = Deadlines {
                start_by: claimed_at + self.pacing.lease.mul_f64(0.75),
                lease_end: claimed_at + self.pacing.lease,
            };
            self.send_batch(batch, deadlines).await;
            if !full {
                return claimed;
            }
        }
        claimed
    }

    /// While the relay is down, probes it on the relay backoff (one connection
    /// attempt, kept for the next send); false if shutdown came first.
    async fn wait_for_relay(&self, shutdown: &CancellationToken) -> bool {
        if !self.relay_down.load(Ordering::Relaxed) {
            return true;
        }
        let mut pause = self.relay_pause();
        tracing::info!(
            retry_in = %humantime::format_duration(pause),
            "waiting for the SMTP relay"
        );
        loop {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => return false,
            }
            match self.mailer.probe().await {
                Ok(()) => {
                    self.relay_down.store(false, Ordering::Relaxed);
                    tracing::info!("the SMTP relay can be reached again");
                    return true;
                }
                Err(error) => {
                    pause = self.relay_pause();
                    tracing::warn!(
                        error,
                        retry_in = %humantime::format_duration(pause),
                        "the SMTP relay still cannot be reached"
                    );
                }
            }
        }
    }

    fn relay_pause(&self) -> Duration {
        self.relay_backoff
            .lock()
            .expect("never poisoned")
            .next_delay()
    }

    async fn send_batch(&self, batch: Vec<OutboxEmail>, deadlines: Deadlines) {
        let late = AtomicUsize::new(0);
        let unreachable = Mutex::new(Vec::new());
        // Deliveries are acknowledged in groups: whatever was sent while the
        // previous group was being recorded goes in the next round trip.
        let (sent, mut to_record) = mpsc::unbounded_channel::<i64>();
        let sends = async move {
            stream::iter(batch)
                .for_each_concurrent(self.pacing.concurrency, |email| {
                    let (late, unreachable, sent) = (&late, &unreachable, &sent);
                    async move {
                        if self.relay_down.load(Ordering::Relaxed) {
                            // Another send of this batch found the relay down.
                            let label = Metrics::label(email.kind.as_str());
                            self.metrics.deferred.get_or_create(&label).inc();
                            unreachable
                                .lock()
                                .expect("never poisoned")
                                .push((email.id, None));
                            return;
                        }
                        if Instant::now() >= deadlines.start_by {
                            late.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        match self.deliver(email, deadlines).await {
                            Delivered::Sent(id) => {
                                let _ = sent.send(id);
                            }
                            Delivered::Unreachable(id, failure) => unreachable
                                .lock()
                                .expect("never poisoned")
                                .push((id, Some(failure))),
                            Delivered::Recorded => {}
                        }
                    }
                })
                .await;
            (
                late.into_inner(),
                unreachable.into_inner().expect("never poisoned"),
            )
        };
        let acknowledgements = async {
            while let Some(first) = to_record.recv().await {
                let mut ids = vec![first];
                while let Ok(id) = to_record.try_recv() {
                    ids.push(id);
                }
                self.record_sent(&ids, deadlines).await;
            }
        };
        let ((late, unreachable), ()) = tokio::join!(sends, acknowledgements);
        if !unreachable.is_empty() {
            self.defer(unreachable, deadlines).await;
        }
        if late > 0 {
            // Nothing of ours is in flight now, so this releases exactly the
            // late emails, for the next claim (ours or another sender's).
            match self.outbox.release().await {
                Ok(released) => tracing::info!(
                    late,
                    released,
                    "gave back emails the lease left no time for"
                ),
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "cannot give back late emails; their lease will expire")
                }
            }
        }
    }

    async fn deliver(&self, email: OutboxEmail, deadlines: Deadlines) -> Delivered {
        let (id, kind) = (email.id, email.kind.as_str());
        let label = Metrics::label(kind);
        let delivery = match message::build(&email) {
            Ok(message) => self.mailer.send(message).await,
            // The reasons name a field, never its content: safe to log.
            Err(invalid) => Err(DeliveryError {
                unreachable: false,
                permanent: true,
                summary: invalid.to_string(),
                detail: invalid.to_string(),
            }),
        };
        let failure = match delivery {
            Ok(()) => {
                self.relay_backoff.lock().expect("never poisoned").reset();
                self.metrics.sent.get_or_create(&label).inc();
                let latency = SystemTime::now()
                    .duration_since(email.created)
                    .unwrap_or_default();
                self.metrics.latency.observe(latency.as_secs_f64());
                return Delivered::Sent(id);
            }
            Err(failure) if failure.unreachable => {
                self.relay_down.store(true, Ordering::Relaxed);
                self.metrics.deferred.get_or_create(&label).inc();
                return Delivered::Unreachable(id, failure);
            }
            Err(failure) => failure,
        };
        self.metrics.failed.get_or_create(&label).inc();
        let attempt = email.attempts + 1;
        let (permanent, error) = (failure.permanent, failure.summary.as_str());
        let outcome = record(deadlines, || {
            self.outbox.mark_failed(id, &failure.detail, permanent)
        })
        .await;
        match outcome {
            Some(FailureOutcome::Retry) => {
                tracing::info!(id, kind, attempt, error, outcome = "retry")
            }
            Some(FailureOutcome::Dead) => {
                self.metrics.dead.get_or_create(&label).inc();
                tracing::warn!(id, kind, attempt, error, permanent, outcome = "dead");
            }
            Some(FailureOutcome::NotHeld) => {
                tracing::warn!(id, kind, outcome = "failed", "no longer ours to record")
            }
            None => tracing::error!(
                id,
                kind,
                outcome = "failed",
                "cannot record the failure; the lease will expire"
            ),
        }
        Delivered::Recorded
    }

    /// Records a group of deliveries in one round trip.
    async fn record_sent(&self, ids: &[i64], deadlines: Deadlines) {
        match record(deadlines, || self.outbox.mark_sent(ids)).await {
            Some(answers) => {
                for (id, recorded) in answers {
                    if recorded {
                        tracing::info!(id, outcome = "sent");
                    } else {
                        tracing::warn!(
                            id,
                            outcome = "sent",
                            "the email was sent but no longer ours to record"
                        );
                    }
                }
            }
            None => tracing::error!(
                ids = ?ids,
                outcome = "sent",
                "emails were sent but cannot be recorded; they will be sent again"
            ),
        }
    }

    /// Gives back, due at once, the emails the relay could not take; no
    /// attempt is spent. They wait for the relay, not for a delay of their
    /// own: this sender claims nothing until a probe reaches it, and another
    /// sender whose relay works may send them meanwhile.
    async fn defer(&self, unreachable: Vec<(i64, Option<DeliveryError>)>, deadlines: Deadlines) {
        let ids: Vec<i64> = unreachable.iter().map(|(id, _)| *id).collect();
        // Emails skipped once the relay was known down carry no failure of their own.
        let failure = unreachable
            .iter()
            .rev()
            .find_map(|(_, failure)| failure.as_ref());
        let (error, detail) = match failure {
            Some(failure) => (failure.summary.as_str(), failure.detail.as_str()),
            None => (
                "the SMTP relay is down",
                "the SMTP relay could not be reached",
            ),
        };
        match record(deadlines, || {
            self.outbox.defer(&ids, Duration::ZERO, detail)
        })
        .await
        {
            Some(deferred) => tracing::warn!(
                deferred,
                error,
                outcome = "deferred",
                "the SMTP relay cannot be reached; no attempt spent"
            ),
            None => tracing::error!(
                error,
                outcome = "deferred",
                "cannot defer the emails the relay did not take; their lease will expire"
            ),
        }
    }
}

/// What happened to one claimed email.
enum Delivered {
    /// Sent; the delivery is still to be recorded.
    Sent(i64),
    /// Not sent, the relay being unreachable; to be deferred.
    Unreachable(i64, DeliveryError),
    /// A failure, already recorded (or given up on).
    Recorded,
}

/// Runs a database update until it succeeds or the lease ends (after which
/// another sender may hold the row). A sent email whose delivery is not
/// recorded would be sent again, so a short database outage is worth riding out.
async fn record<T, F, Fut>(deadlines: Deadlines, mut update: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut pauses = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        let error = match update().await {
            Ok(value) => return Some(value),
            Err(error) => error,
        };
        let pause = pauses.next_delay();
        if Instant::now() + pause >= deadlines.lease_end {
            tracing::warn!(error = %format!("{error:#}"), "cannot record an outcome");
            return None;
        }
        tracing::warn!(error = %format!("{error:#}"), "cannot record an outcome; retrying");
        tokio::time::sleep(pause).await;
    }
}

/// Waits for a notification, `duration`, or shutdown, whichever comes first.
async fn nap(wake_ups: &WakeUps, duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = wake_ups.bell.notified() => {}
        () = tokio::time::sleep(duration) => {}
        () = shutdown.cancelled() => {}
    }
}
