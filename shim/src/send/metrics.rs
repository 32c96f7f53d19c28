//! Prometheus metrics: what this sender did (counters, latency) and what the
//! queue looks like (gauges, read from auth.email_outbox_stats on each scrape
//! so that they describe the whole outbox, whichever sender did the work).

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use super::outbox::Outbox;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The template name, e.g. password_reset.
    pub kind: String,
}

pub struct Metrics {
    registry: Registry,
    pub sent: Family<KindLabel, Counter>,
    /// Every failed attempt, whether it will be retried or not.
    pub failed: Family<KindLabel, Counter>,
    /// Emails given up.
    pub dead: Family<KindLabel, Counter>,
    /// Emails put back without spending an attempt: the relay was unreachable.
    pub deferred: Family<KindLabel, Counter>,
    /// From queueing (the row's `created`) to delivery.
    pub latency: Histogram,
    pending: Gauge,
    in_flight: Gauge,
    dead_rows: Gauge,
    expired_rows: Gauge,
    oldest_pending_age: Gauge<f64, AtomicU64>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("nile_reset");
        let sent = Family::default();
        let failed = Family::default();
        let dead = Family::default();
        let deferred = Family::default();
        // 0.1 s to about 14 min: from a NOTIFY-driven send to a long outage.
        let latency = Histogram::new(exponential_buckets(0.1, 2.0, 14));
        let (pending, in_flight, dead_rows, expired_rows) = (
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
        );
        let oldest_pending_age = Gauge::<f64, AtomicU64>::default();
        registry.register("emails_sent", "Emails delivered", sent.clone());
        registry.register("emails_failed", "Failed delivery attempts", failed.clone());
        registry.register(
            "emails_dead",
            "Emails given up after a permanent error or too many attempts",
            dead.clone(),
        );
        registry.register(
            "emails_deferred",
            "Emails put back for later because the SMTP relay could not be reached (no attempt spent)",
            deferred.clone(),
        );
        registry.register_with_unit(
            "email_delivery_latency",
            "Time from queueing an email to its delivery",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "outbox_pending",
            "Emails waiting to be sent, in flight included",
            pending.clone(),
        );
        registry.register(
            "outbox_in_flight",
            "Emails claimed by a sender right now",
            in_flight.clone(),
        );
        registry.register(
            "outbox_dead",
            "Emails given up, waiting for auth.requeue_dead_emails",
            dead_rows.clone(),
        );
        registry.register(
            "outbox_expired",
            "Emails not sent because their link expired before they could be",
            expired_rows.clone(),
        );
        registry.register_with_unit(
            "outbox_oldest_pending_age",
            "Age of the oldest email waiting to be sent (0 when none)",
            Unit::Seconds,
            oldest_pending_age.clone(),
        );
        Self {
            registry,
            sent,
            failed,
            dead,
            deferred,
            latency,
            pending,
            in_flight,
            dead_rows,
            expired_rows,
            oldest_pending_age,
        }
    }

    pub fn label(kind: &str) -> KindLabel {
        KindLabel {
            kind: kind.to_owned(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Reads the queue gauges afresh (each scrape does, before encoding).
    pub async fn refresh_queue_gauges(&self, outbox: &Outbox) {
        let stats = match tokio::time::timeout(Duration::from_secs(5), outbox.stats()).await {
            Ok(Ok(stats)) => stats,
            Ok(Err(error)) => return tracing::warn!(%error, "cannot read outbox statistics"),
            Err(_) => return tracing::warn!("reading outbox statistics timed out"),
        };
        self.pending.set(stats.pending);
        self.in_flight.set(stats.in_flight);
        self.dead_rows.set(stats.dead);
        self.expired_rows.set(stats.expired);
        let age = stats
            .oldest_pending
            .and_then(|created| SystemTime::now().duration_since(created).ok())
            .unwrap_or_default();
        self.oldest_pending_age.set(age.as_secs_f64());
    }
}
