//! The outbox as the sender sees it: the SQL functions of sql/sender.sql,
//! called through a connection pool that replaces connections the database
//! dropped (a restart), so every call after an outage simply reconnects.
//! Columns are read by name, and answers this binary does not know are
//! errors, never guesses.

use std::time::{Duration, SystemTime};

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use crate::database;

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
    /// The HTML alternative, when the template has one.
    pub html_body: Option<String>,
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
            html_body: row.try_get("html_body")?,
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

impl FailureOutcome {
    /// Every answer the SQL can give (NULL: the row was not ours), and
    /// nothing else: an unknown outcome means an extension this binary was
    /// not built for.
    pub fn parse(answer: Option<&str>) -> anyhow::Result<FailureOutcome> {
        match answer {
            Some("retry") => Ok(FailureOutcome::Retry),
            Some("dead") => Ok(FailureOutcome::Dead),
            None => Ok(FailureOutcome::NotHeld),
            Some(other) => {
                anyhow::bail!("auth.mark_email_failed answered an unknown outcome `{other}`")
            }
        }
    }
}

pub struct OutboxStats {
    pub pending: i64,
    pub in_flight: i64,
    pub dead: i64,
    pub oldest_pending: Option<SystemTime>,
    /// Emails not sent because their link expired first.
    pub expired: i64,
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
                "SELECT id, kind, recipient, sender, subject, body, html_body, attempts, created
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

    /// Records many deliveries in one round trip (one statement, so all or
    /// none). Answers, per id, false when the row was no longer ours or
    /// already sent.
    pub async fn mark_sent(&self, ids: &[i64]) -> anyhow::Result<Vec<(i64, bool)>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, auth.mark_email_sent(id, $2) AS recorded
                 FROM unnest($1::bigint[]) AS id",
            )
            .await?;
        let rows = client.query(&statement, &[&ids, &self.worker]).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("recorded")?)))
            .collect()
    }

    /// Makes `ids` due again after `delay` without spending an attempt (the
    /// relay could not be reached); the number of rows deferred.
    pub async fn defer(&self, ids: &[i64], delay: Duration, error: &str) -> anyhow::Result<i32> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT auth.defer_emails($1::bigint[], $2, make_interval(secs => $3), $4) AS deferred",
            )
            .await?;
        let row = client
            .query_one(
                &statement,
                &[&ids, &self.worker, &delay.as_secs_f64(), &error],
            )
            .await?;
        Ok(row.try_get("deferred")?)
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
                // ::text: the outcome reads the same whether SQL spells it as text or an enum.
                "SELECT auth.mark_email_failed($1, $2, $3, $4, $5, make_interval(secs => $6))::text AS outcome",
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
        let row = client.query_one(&statement, &params).await?;
        FailureOutcome::parse(row.try_get("outcome")?)
    }

    /// Gives back every claim of this sender; the number of rows released.
    pub async fn release(&self) -> anyhow::Result<i32> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT auth.release_emails($1) AS released",
                &[&self.worker],
            )
            .await?;
        Ok(row.try_get("released")?)
    }

    /// The installed extension's version, if it is the one this binary was built for (the
    /// start-up check, again: /healthz).
    pub async fn extension_version(&self) -> anyhow::Result<String> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|error| anyhow::anyhow!(database::describe_pool_error(&error)))?;
        Ok(database::check_extension(&client).await?)
    }

    pub async fn stats(&self) -> anyhow::Result<OutboxStats> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT pending, in_flight, dead, oldest_pending, expired FROM auth.email_outbox_stats()",
                &[],
            )
            .await?;
        Ok(OutboxStats {
            pending: row.try_get("pending")?,
            in_flight: row.try_get("in_flight")?,
            dead: row.try_get("dead")?,
            oldest_pending: row.try_get("oldest_pending")?,
            expired: row.try_get("expired")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_outcomes_parse_exhaustively() {
        assert_eq!(
            FailureOutcome::parse(Some("retry")).unwrap(),
            FailureOutcome::Retry
        );
        assert_eq!(
            FailureOutcome::parse(Some("dead")).unwrap(),
            FailureOutcome::Dead
        );
        assert_eq!(
            FailureOutcome::parse(None).unwrap(),
            FailureOutcome::NotHeld
        );
        for unknown in ["", "Retry", "expired", "sent"] {
            assert!(FailureOutcome::parse(Some(unknown)).is_err(), "{unknown:?}");
        }
    }
}
