//! The databases this server answers for, one connection pool each, and how their errors become
//! HTTP errors.
//!
//! Pools open connections lazily, so the server starts (and keeps running) while a database is
//! down; a connection the server closed is noticed and replaced on the next checkout, so a
//! restarted database is picked up without restarting us.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Context};
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use prometheus_client::metrics::counter::Counter;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::config::ServeArgs;
use super::error::ApiError;
use super::metrics::Metrics;

/// Placeholder in --dsn-template.
const NAME_PLACEHOLDER: &str = "{database}";

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
    pub fn from_args(args: &ServeArgs, metrics: &Metrics) -> anyhow::Result<Databases> {
        let mut dsns: Vec<(String, String)> = args
            .databases
            .iter()
            .map(|db| (db.name.clone(), db.dsn.clone()))
            .collect();
        if let Some(template) = &args.dsn_template {
            if !template.contains(NAME_PLACEHOLDER) {
                bail!("--dsn-template must contain {NAME_PLACEHOLDER}");
            }
            for name in &args.allowed_databases {
                dsns.push((name.clone(), template.replace(NAME_PLACEHOLDER, name)));
            }
        }
        if dsns.is_empty() {
            bail!("no database configured: use --database NAME=DSN, or --dsn-template with --allow-database");
        }

        let mut by_name = HashMap::new();
        for (name, dsn) in dsns {
            validate_name(&name)?;
            let pool = build_pool(&dsn, args).with_context(|| format!("database {name:?}"))?;
            let errors = metrics.database_errors(&name);
            let database = Database {
                name: Arc::from(name.as_str()),
                pool,
                errors,
            };
            if by_name.insert(name.clone(), database).is_some() {
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
}

/// Names end up in URLs, DSNs, logs and metric labels: keep them plain.
fn validate_name(name: &str) -> anyhow::Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.len() > 63 || !name.chars().all(plain) {
        bail!("database name {name:?} must be 1 to 63 characters among A-Z a-z 0-9 _ - .");
    }
    Ok(())
}

fn build_pool(dsn: &str, args: &ServeArgs) -> anyhow::Result<Pool> {
    // The parse error never quotes the DSN, which may hold a password.
    let mut config: tokio_postgres::Config = dsn.parse().context("invalid DSN")?;
    if config.get_password().is_none() {
        // libpq's convention, so passwords can stay out of argv.
        if let Some(password) = std::env::var_os("PGPASSWORD") {
            config.password(password.into_encoded_bytes());
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("nile-reset");
    }
    // A statement still running after its request timed out holds a connection (and maybe
    // locks) for nothing: let the server cancel it at the same deadline. Options from the DSN
    // come after ours, so an explicit statement_timeout there wins.
    let statement_timeout = format!("-c statement_timeout={}", args.request_timeout.as_millis());
    let options = match config.get_options() {
        Some(existing) => format!("{statement_timeout} {existing}"),
        None => statement_timeout,
    };
    config.options(options);
    config.connect_timeout(args.db_timeout);
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let timeout = Some(args.db_timeout);
    Pool::builder(manager)
        .max_size(args.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(timeout)
        .create_timeout(timeout)
        .recycle_timeout(timeout)
        .build()
        .context("cannot build the connection pool")
}

impl Database {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sql` (a statement returning exactly one row) with a statement prepared once per
    /// connection.
    pub async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, ApiError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|error| self.query_error(error))?;
        client
            .query_one(&statement, params)
            .await
            .map_err(|error| self.query_error(error))
    }

    /// `SELECT 1` on a pooled connection: whether the database answers at all.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|error| self.failure(&error))?;
        Ok(())
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
                error = %error,
                cause = error_source(error),
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

fn is_user_error(sqlstate: &str) -> bool {
    sqlstate.starts_with("22") || sqlstate.starts_with("28")
}

fn error_source(error: &tokio_postgres::Error) -> String {
    std::error::Error::source(error)
        .map(ToString::to_string)
        .unwrap_or_default()
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
