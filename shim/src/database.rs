//! How both subcommands reach PostgreSQL: connection settings from a URL (and PGPASSWORD),
//! TLS with libpq's `sslmode` meanings (see [`crate::tls`]), connection pools, safe descriptions of database errors, and the check that the installed
//! nile_reset extension is the version this binary was built for.
//!
//! Pools open connections lazily and replace the ones the server closed (a restart) on the
//! next checkout, so callers survive a database outage without restarting.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use anyhow::{bail, Context as _};
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::Client;

use crate::backoff::Backoff;
use crate::tls;

/// The extension version this binary speaks to: both crates share the workspace version, so
/// a binary and an extension from the same release always match.
pub const EXTENSION_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Without a connect timeout, connecting to a vanished host hangs for minutes.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connection settings and the TLS connector they call for. Derefs to tokio-postgres' own
/// settings; connect with [`ConnectionSettings::tls`], never with `NoTls` (which cannot honour
/// sslmode=require and above).
#[derive(Clone)]
pub struct ConnectionSettings {
    config: tokio_postgres::Config,
    tls: tls::Connector,
}

impl ConnectionSettings {
    /// The TLS connector for `connect` (it is only used when sslmode is not `disable`).
    pub fn tls(&self) -> tls::Connector {
        self.tls.clone()
    }
}

impl Deref for ConnectionSettings {
    type Target = tokio_postgres::Config;

    fn deref(&self) -> &tokio_postgres::Config {
        &self.config
    }
}

impl DerefMut for ConnectionSettings {
    fn deref_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.config
    }
}

/// Where libpq looks when neither the connection string nor PGHOST names a host: Debian's
/// socket directory (the one its PostgreSQL packages listen on).
const DEFAULT_SOCKET_DIRECTORY: &str = "/var/run/postgresql";

/// Connection settings from a PostgreSQL URL or key=value string, as libpq reads them: what
/// the string leaves out comes from libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
/// PGPASSWORD, PGSSLMODE, PGSSLROOTCERT), so passwords can stay out of argv and `ps`;
/// `application_name` names our sessions in pg_stat_activity unless the string names them;
/// `sslmode` and `sslrootcert` mean what they mean to libpq, and like libpq nothing is
/// encrypted over a Unix-domain socket (a directory as the host, `%2F...` in a URL or
/// `?host=/...`), whatever the sslmode.
/// Errors never quote the URL: it may hold a password.
pub fn connection_config(url: &str, application_name: &str) -> anyhow::Result<ConnectionSettings> {
    connection_config_with_env(url, application_name, |name| std::env::var(name).ok())
}

fn connection_config_with_env(
    url: &str,
    application_name: &str,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ConnectionSettings> {
    let (rest, tls_settings) = tls::split_settings(url, &env)?;
    let mut config = configure(&rest, application_name, &env)?;
    let hosts = config.get_hosts();
    let sockets = hosts
        .iter()
        .filter(|host| matches!(host, tokio_postgres::config::Host::Unix(_)))
        .count();
    if sockets == hosts.len() {
        config.ssl_mode(tls::SslMode::Disable.wire());
    } else if sockets == 0 || tls_settings.mode == tls::SslMode::Prefer {
        // prefer over a socket: the server declines TLS there, and the socket is used plain.
        config.ssl_mode(tls_settings.mode.wire());
    } else {
        bail!(
            "a connection string that lists both Unix-domain sockets and TCP hosts cannot use \
             sslmode {}: tokio-postgres has one sslmode for every host (list them in separate \
             connection strings, or use sslmode=prefer)",
            tls_settings.mode.name()
        );
    }
    Ok(ConnectionSettings {
        config,
        tls: tls::connector(&tls_settings)?,
    })
}

fn configure(
    url: &str,
    application_name: &str,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| anyhow::anyhow!("the database URL is not valid ({e})"))?;
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    if config.get_password().is_none() {
        if let Some(password) = env("PGPASSWORD") {
            config.password(password);
        }
    }
    if config.get_hosts().is_empty() {
        let hosts = env("PGHOST").unwrap_or_else(|| DEFAULT_SOCKET_DIRECTORY.to_owned());
        for host in hosts.split(',') {
            config.host(host);
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = env("PGPORT") {
            let port = port.parse().context("PGPORT is not a port number")?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        // libpq's default is the operating system user's name.
        if let Some(user) = env("PGUSER").or_else(|| env("USER")) {
            config.user(user);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(dbname) = env("PGDATABASE") {
            config.dbname(dbname);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name(application_name);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    Ok(config)
}

/// A pool of at most `size` connections; `timeout` bounds waiting for a free connection,
/// opening one, and checking a returned one.
pub fn pool(settings: ConnectionSettings, size: usize, timeout: Duration) -> anyhow::Result<Pool> {
    let manager = Manager::from_config(
        settings.config,
        settings.tls,
        // A connection the server closed reports it at once (is_closed), so the cheap check is
        // enough never to hand one out again.
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .context("cannot build the database connection pool")
}

/// A connection from `pool`, waiting out an unreachable server (it may still be starting) with
/// a growing pause. Every other failure (a wrong password, no such database) is final. Logs
/// each failed attempt.
pub async fn wait_for_connection(pool: &Pool) -> anyhow::Result<Object> {
    let mut pause = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        match pool.get().await {
            Ok(client) => return Ok(client),
            Err(error) if is_unreachable(&error) => {
                tracing::warn!(error = %describe_pool_error(&error), "the database is unreachable; trying again");
                tokio::time::sleep(pause.next_delay()).await;
            }
            Err(error) => bail!(
                "cannot connect to the database: {}",
                describe_pool_error(&error)
            ),
        }
    }
}

/// Whether the server could not be reached at all (refused, reset, timed out), as opposed to
/// a server that answered no.
fn is_unreachable(error: &PoolError) -> bool {
    match error {
        PoolError::Timeout(_) => true,
        PoolError::Backend(error) => {
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                if cause.is::<std::io::Error>() {
                    return true;
                }
                source = cause.source();
            }
            false
        }
        _ => false,
    }
}

/// What is wrong with the extension a database has, if anything.
#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    #[error(
        "the nile_reset extension is not installed in this database (CREATE EXTENSION nile_reset)"
    )]
    Missing,
    #[error(
        "the database has nile_reset {found}, but this nile-reset is built for {EXTENSION_VERSION}: \
         update the extension (ALTER EXTENSION nile_reset UPDATE TO '{EXTENSION_VERSION}') or run \
         the nile-reset of version {found}"
    )]
    OtherVersion { found: String },
    #[error(
        "this database is a Citus worker: nile_reset's tokens and outbox live on the coordinator, \
         connect to the coordinator"
    )]
    CitusWorker,
    #[error("cannot read the installed extension version: {0}")]
    Unreadable(String),
}

/// The installed extension's version, if it is the one this binary was built for.
pub async fn check_extension(client: &Client) -> Result<String, ExtensionError> {
    let row = client
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'",
            &[],
        )
        .await
        .map_err(|error| ExtensionError::Unreadable(describe(&error)))?;
    let found: String = row
        .ok_or(ExtensionError::Missing)?
        .try_get("extversion")
        .map_err(|error| ExtensionError::Unreadable(describe(&error)))?;
    if found != EXTENSION_VERSION {
        return Err(ExtensionError::OtherVersion { found });
    }
    if is_citus_worker(client)
        .await
        .map_err(|error| ExtensionError::Unreadable(describe(&error)))?
    {
        return Err(ExtensionError::CitusWorker);
    }
    Ok(found)
}

/// Citus creates the extension on its workers too, but none of its state
/// lives there (docs/citus.md): a sender connected to a
/// worker would find an empty outbox forever. Group 0 is the coordinator's.
async fn is_citus_worker(client: &Client) -> Result<bool, tokio_postgres::Error> {
    let citus: bool = client
        .query_one(
            "SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !citus {
        return Ok(false);
    }
    let group: Option<i32> = client
        .query_opt("SELECT groupid FROM pg_catalog.pg_dist_local_group", &[])
        .await?
        .map(|row| row.get(0));
    Ok(group.is_some_and(|group| group != 0))
}

/// A database error for logs and messages: the SQLSTATE and primary message only (DETAIL and
/// HINT may quote row values), or the chain of causes of a connection failure (tokio-postgres
/// errors say little more than "db error" or "error connecting to server" themselves).
pub fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// [`describe`] for the errors of a pool checkout.
pub fn describe_pool_error(error: &PoolError) -> String {
    match error {
        PoolError::Backend(error) => describe(error),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    #[test]
    fn url_errors_do_not_quote_the_url() {
        let Err(error) = connection_config("postgres://u:hunter2@h:notaport/db", "test") else {
            panic!("a bad port was accepted");
        };
        let error = error.to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn defaults_apply_only_where_the_url_says_nothing() {
        let config = connection_config(
            "postgres://u@h/db?application_name=mine&connect_timeout=9",
            "test",
        )
        .unwrap();
        assert_eq!(config.get_application_name(), Some("mine"));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(9)));
        let config = connection_config("postgres://u@h/db", "nile-reset test").unwrap();
        assert_eq!(config.get_application_name(), Some("nile-reset test"));
        assert_eq!(config.get_connect_timeout(), Some(&DEFAULT_CONNECT_TIMEOUT));
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn pgpassword_fills_in_a_missing_password_only() {
        let from_env = env_of(&[("PGPASSWORD", "env-secret")]);
        let config = configure("postgres://u@h/db", "test", &from_env).unwrap();
        assert_eq!(config.get_password(), Some(&b"env-secret"[..]));
        let config = configure("postgres://u:url-secret@h/db", "test", &from_env).unwrap();
        assert_eq!(config.get_password(), Some(&b"url-secret"[..]));
        let config = configure("postgres://u@h/db", "test", env_of(&[])).unwrap();
        assert_eq!(config.get_password(), None);
    }

    #[test]
    fn libpq_environment_fills_in_what_the_string_leaves_out() {
        let env = env_of(&[
            ("PGHOST", "/run/pg"),
            ("PGPORT", "5433"),
            ("PGUSER", "mailer"),
            ("PGDATABASE", "app"),
        ]);
        let config = configure("", "test", &env).unwrap();
        assert_eq!(
            config.get_hosts(),
            [Host::Unix(std::path::PathBuf::from("/run/pg"))]
        );
        assert_eq!(config.get_ports(), [5433]);
        assert_eq!(config.get_user(), Some("mailer"));
        assert_eq!(config.get_dbname(), Some("app"));
        // What the string says wins.
        let config = configure("host=db port=6000 user=u dbname=d", "test", &env).unwrap();
        assert_eq!(config.get_hosts(), [Host::Tcp("db".into())]);
        assert_eq!(config.get_ports(), [6000]);
        assert_eq!(config.get_user(), Some("u"));
        // No host anywhere: Debian's socket directory, as libpq there.
        let config = configure("dbname=app", "test", env_of(&[])).unwrap();
        assert_eq!(
            config.get_hosts(),
            [Host::Unix(std::path::PathBuf::from(
                DEFAULT_SOCKET_DIRECTORY
            ))]
        );
    }

    #[test]
    fn a_unix_socket_is_never_encrypted_whatever_the_sslmode() {
        use tokio_postgres::config::SslMode as Wire;
        for dsn in [
            "postgres://app@%2Fvar%2Frun%2Fpostgresql/app?sslmode=require",
            "postgresql:///app?host=/var/run/postgresql&sslmode=require",
            "host=/var/run/postgresql dbname=app sslmode=require",
        ] {
            let settings = connection_config_with_env(dsn, "test", env_of(&[])).unwrap();
            assert_eq!(settings.get_ssl_mode(), Wire::Disable, "{dsn}");
        }
        let settings =
            connection_config_with_env("host=db dbname=app sslmode=require", "test", env_of(&[]))
                .unwrap();
        assert_eq!(settings.get_ssl_mode(), Wire::Require);
        // One sslmode for a socket and a TCP host cannot mean what libpq means: refused.
        assert!(connection_config_with_env(
            "host=/var/run/postgresql,db dbname=app sslmode=require",
            "test",
            env_of(&[])
        )
        .is_err());
    }

    #[test]
    fn version_mismatch_names_both_versions() {
        let message = ExtensionError::OtherVersion {
            found: "0.0.9".into(),
        }
        .to_string();
        assert!(
            message.contains("0.0.9") && message.contains(EXTENSION_VERSION),
            "{message}"
        );
    }
}
