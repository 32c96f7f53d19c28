//! The outbox as the sender sees it: the SQL functions of sql/sender.sql,
//! called through a connection pool that replaces connections the database
//! dropped (a restart), so every call after an outage simply reconnects.

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{NoTls, Row};

/// A claimed email, as auth.claim_emails returns it.
pub struct OutboxEmail {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub sender: String,
    pub subject: String,
    /// NULL only for rows already sent, which are never claimed; kept optional
    /// so that a broken row fails on its own instead of failing the batch.
    pub body: Option<String>,
    pub attempts: i32,
    pub created: SystemTime,
}

impl TryFrom<Row> for OutboxEmail {
    type Error = tokio_postgres::Error;

    fn try_from(row: Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            recipient: row.try_get("recipient")?,
            sender: row.try_get("sender")?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            attempts: row.try_get("attempts")?,
            created: row.try_get("created")?,
        })
    }
}

/// What auth.mark_email_failed decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Due again after a backoff.
    Retry,
    /// Given up: permanent error or too many attempts.
    Dead,
    /// The row was no longer ours (our lease expired and another sender
    /// claimed it), so nothing was recorded.
    NotHeld,
}

pub struct OutboxStats {
    pub pending: i64,
    pub in_flight: i64,
    pub dead: i64,
    pub oldest_pending: Option<SystemTime>,
}

/// How failures are recorded: passed on to auth.mark_email_failed.
#[derive(Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u16,
    pub base: Duration,
}

#[derive(Clone)]
pub struct Outbox {
    pool: Pool,
    worker: String,
    retry: RetryPolicy,
}

/// Connects lazily: the pool opens connections on first use, so a sender
/// started before its database comes up just keeps retrying.
pub fn pool(config: tokio_postgres::Config, size: usize) -> anyhow::Result<Pool> {
    let manager = Manager::from_config(
        config,
        NoTls,
        // A connection the server closed reports it at once (is_closed), so
        // the cheap check is enough to never hand one out again.
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .build()
        .context("cannot build the database connection pool")
}

impl Outbox {
    pub fn new(pool: Pool, worker: String, retry: RetryPolicy) -> Self {
        Self {
            pool,
            worker,
            retry,
        }
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub async fn claim(
        &self,
        batch_size: u16,
        lease: Duration,
    ) -> anyhow::Result<Vec<OutboxEmail>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, kind, recipient, sender, subject, body, attempts, created
                 FROM auth.claim_emails($1, $2, make_interval(secs => $3))",
            )
            .await?;
        let rows = client
            .query(
                &statement,
                &[&self.worker, &i32::from(batch_size), &lease.as_secs_f64()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(OutboxEmail::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// False when the row was no longer ours or already sent.
    pub async fn mark_sent(&self, id: i64) -> anyhow::Result<bool> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached("SELECT auth.mark_email_sent($1, $2)")
            .await?;
        Ok(client
            .query_one(&statement, &[&id, &self.worker])
            .await?
            .try_get(0)?)
    }

    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        permanent: bool,
    ) -> anyhow::Result<FailureOutcome> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT auth.mark_email_failed($1, $2, $3, $4, $5, make_interval(secs => $6))",
            )
            .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &id,
            &self.worker,
            &error,
            &permanent,
            &i32::from(self.retry.max_attempts),
            &self.retry.base.as_secs_f64(),
        ];
        let outcome: Option<String> = client.query_one(&statement, &params).await?.try_get(0)?;
        match outcome.as_deref() {
            Some("retry") => Ok(FailureOutcome::Retry),
            Some("dead") => Ok(FailureOutcome::Dead),
            None => Ok(FailureOutcome::NotHeld),
            Some(other) => {
                anyhow::bail!("auth.mark_email_failed answered an unknown outcome `{other}`")
            }
        }
    }

    /// Gives back every claim of this sender; the number of rows released.
    pub async fn release(&self) -> anyhow::Result<i32> {
        let client = self.pool.get().await?;
        let row = client
            .query_one("SELECT auth.release_emails($1)", &[&self.worker])
            .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn stats(&self) -> anyhow::Result<OutboxStats> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT pending, in_flight, dead, oldest_pending FROM auth.email_outbox_stats()",
                &[],
            )
            .await?;
        Ok(OutboxStats {
            pending: row.try_get("pending")?,
            in_flight: row.try_get("in_flight")?,
            dead: row.try_get("dead")?,
            oldest_pending: row.try_get("oldest_pending")?,
        })
    }
}
