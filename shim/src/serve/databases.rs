//! The databases this server answers for, one connection pool each, and how their errors become
//! HTTP errors.
//!
//! Pools open connections lazily, so the server starts (and keeps running) while a database is
//! down; a connection the server closed is noticed and replaced on the next checkout, so a
//! restarted database is picked up without restarting us.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use deadpool_postgres::{Object, Pool, PoolError};
use futures_util::future::try_join_all;
use prometheus_client::metrics::counter::Counter;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::error::ApiError;
use super::metrics::Metrics;
use super::ServeConfig;
use crate::database::{self, ExtensionError};

pub struct Databases {
    by_name: HashMap<String, Database>,
}

/// A handle to one configured database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    name: Arc<str>,
    pool: Pool,
    errors: Counter,
}

impl Databases {
    /// Builds one pool per configured database (no connection is opened yet).
    pub fn new(config: &ServeConfig, metrics: &Metrics) -> anyhow::Result<Databases> {
        if config.databases.is_empty() {
            bail!("no database configured: use --database NAME=DSN, or --dsn-template with --allow-database");
        }
        let mut by_name = HashMap::new();
        for target in &config.databases {
            let name = target.name.as_str();
            validate_name(name)?;
            let pool =
                build_pool(&target.dsn, config).with_context(|| format!("database {name:?}"))?;
            let database = Database {
                name: Arc::from(name),
                pool,
                errors: metrics.database_errors(name),
            };
            if by_name.insert(name.to_owned(), database).is_some() {
                bail!("database {name:?} is configured twice");
            }
        }
        Ok(Databases { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Database> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Database> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn close(&self) {
        for database in self.by_name.values() {
            database.pool.close();
        }
    }

    /// Refuses to serve a database whose extension is missing or of another version. A database
    /// that cannot be reached now is served anyway (it may come up later: /healthz says 503
    /// until then), so one database that is down does not keep the others from being served.
    pub async fn check_extensions(&self, timeout: Duration) -> anyhow::Result<()> {
        let checks = self.iter().map(|db| async move {
            let client = match tokio::time::timeout(timeout, db.pool.get()).await {
                Ok(Ok(client)) => client,
                Ok(Err(error)) => {
                    let error = database::describe_pool_error(&error);
                    tracing::warn!(database = db.name(), %error, "database unreachable at start");
                    return Ok(());
                }
                Err(_) => {
                    tracing::warn!(
                        database = db.name(),
                        "database unreachable at start (timed out)"
                    );
                    return Ok(());
                }
            };
            let version = database::check_extension(&client)
                .await
                .with_context(|| format!("database {:?}", db.name()))?;
            tracing::info!(
                database = db.name(),
                extension_version = version,
                "extension checked"
            );
            anyhow::Ok(())
        });
        try_join_all(checks).await?;
        Ok(())
    }
}

/// Names end up in URLs, DSNs, logs and metric labels: keep them plain.
fn validate_name(name: &str) -> anyhow::Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.len() > 63 || !name.chars().all(plain) {
        bail!("database name {name:?} must be 1 to 63 characters among A-Z a-z 0-9 _ - .");
    }
    Ok(())
}

fn build_pool(dsn: &str, config: &ServeConfig) -> anyhow::Result<Pool> {
    let mut connection = database::connection_config(dsn, "nile-reset")?;
    // A statement still running after its request timed out holds a connection (and maybe
    // locks) for nothing: let the server cancel it at the same deadline. Options from the DSN
    // come after ours, so an explicit statement_timeout there wins.
    let statement_timeout = format!(
        "-c statement_timeout={}",
        config.request_timeout.as_millis()
    );
    let options = match connection.get_options() {
        Some(existing) => format!("{statement_timeout} {existing}"),
        None => statement_timeout,
    };
    connection.options(options);
    connection.connect_timeout(config.db_timeout);
    database::pool(connection, config.pool_size, config.db_timeout)
}

impl Database {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sql` (a `SELECT` without a top-level `LIMIT` or `OFFSET`, answering exactly one
    /// row) with a statement prepared once per connection.
    ///
    /// The extension's calls run code the application's table owner wrote (a user filter,
    /// an `on_password_reset` function, triggers). A session-level advisory lock it takes would
    /// stay with this pooled connection and pass to whoever's request comes next, so the
    /// statement releases them itself once its row is computed (see [`releasing_session_locks`]):
    /// no second statement, transaction or round trip. When it stops before that (an error, no
    /// row), the locks are released by a statement of their own; when the request is abandoned
    /// mid-statement (its deadline), or that release fails, the connection leaves the pool, and
    /// closing it ends the session and its locks. The shim itself never holds one.
    pub async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, ApiError> {
        let in_use = Unfinished(Some(self.client().await?));
        let client = in_use.client();
        let answer = match client.prepare_cached(&releasing_session_locks(sql)).await {
            // Nothing ran.
            Err(error) => Err(error),
            Ok(statement) => {
                let answer = client.query_one(&statement, params).await;
                if answer.is_err() && client.execute(RELEASE_SESSION_LOCKS, &[]).await.is_err() {
                    // Dropping in_use closes the connection.
                    return answer.map_err(|error| self.query_error(error));
                }
                answer
            }
        };
        in_use.finish();
        answer.map_err(|error| self.query_error(error))
    }

    /// The installed extension's version, when the database answers and has the version this
    /// binary was built for; failures are logged (and counted) here.
    pub async fn extension_version(&self) -> Option<String> {
        let client = self.client().await.ok()?;
        match database::check_extension(&client).await {
            Ok(version) => Some(version),
            Err(ExtensionError::Unreadable(error)) => {
                self.errors.inc();
                tracing::error!(database = %self.name, %error, "health check failed");
                None
            }
            Err(error) => {
                tracing::error!(database = %self.name, error = %error, "wrong extension");
                None
            }
        }
    }

    async fn client(&self) -> Result<Object, ApiError> {
        self.pool
            .get()
            .await
            .map_err(|error| self.pool_failure(error))
    }

    /// Errors the SQL contract raises on purpose (SQLSTATE class 22: invalid argument, 28: invalid
    /// reset token) carry a message meant for the user; everything else is a database failure.
    fn query_error(&self, error: tokio_postgres::Error) -> ApiError {
        match error.as_db_error() {
            Some(db) if is_user_error(db.code().code()) => {
                ApiError::BadRequest(db.message().to_owned())
            }
            // statement_timeout is the request timeout: the same answer as the HTTP limit's.
            Some(db) if *db.code() == tokio_postgres::error::SqlState::QUERY_CANCELED => {
                tracing::warn!(database = %self.name, "statement cancelled at the request timeout");
                ApiError::TimedOut
            }
            _ => self.failure(&error),
        }
    }

    fn failure(&self, error: &tokio_postgres::Error) -> ApiError {
        self.errors.inc();
        match error.as_db_error() {
            // Only the code and the primary message: DETAIL and HINT may quote row values.
            Some(db) => tracing::error!(
                database = %self.name,
                sqlstate = db.code().code(),
                error = db.message(),
                "database error"
            ),
            None => tracing::error!(
                database = %self.name,
                error = database::describe(error),
                "database unavailable"
            ),
        }
        ApiError::DatabaseFailure
    }

    fn pool_failure(&self, error: PoolError) -> ApiError {
        match error {
            PoolError::Backend(error) => self.failure(&error),
            other => {
                self.errors.inc();
                tracing::error!(database = %self.name, error = %other, "no database connection");
                ApiError::DatabaseFailure
            }
        }
    }
}

/// Releases the session-level advisory locks of the connection (see `Database::query_one`).
const RELEASE_SESSION_LOCKS: &str = "SELECT pg_catalog.pg_advisory_unlock_all()";

/// `sql` with the connection's session-level advisory locks released after its row: the
/// release is the last column of the outer query, computed from the row the subquery has
/// already produced (`OFFSET 0` keeps the subquery a scan of its own rather than merged into
/// the outer query), so it runs after everything `sql` calls.
fn releasing_session_locks(sql: &str) -> String {
    format!(
        "SELECT answer.*, pg_catalog.pg_advisory_unlock_all() AS released_session_locks \
         FROM ({sql} OFFSET 0) AS answer"
    )
}

/// A pooled connection in the middle of a statement: dropped before [`Unfinished::finish`]
/// (the request's deadline passed, or the statement's locks could not be released), it is
/// taken out of the pool and closed, which ends its session and whatever locks it held.
struct Unfinished(Option<Object>);

impl Unfinished {
    fn client(&self) -> &Object {
        self.0
            .as_ref()
            .expect("the connection is in use until finish")
    }

    /// The statement is over and held nothing: back to the pool.
    fn finish(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

fn is_user_error(sqlstate: &str) -> bool {
    sqlstate.starts_with("22") || sqlstate.starts_with("28")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_classes_22_and_28_reach_the_user() {
        assert!(is_user_error("22023"));
        assert!(is_user_error("22001"));
        assert!(is_user_error("28000"));
        assert!(!is_user_error("42883"));
        assert!(!is_user_error("57P01"));
        assert!(!is_user_error("08006"));
    }

    #[test]
    fn database_names_stay_plain() {
        assert!(validate_name("app_db-1.test").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("x/../y").is_err());
        assert!(validate_name(&"x".repeat(64)).is_err());
    }
}
