//! Command-line options of `serve`. Every one can also come from the environment.
//!
//! Secrets (the cookie secret, the API keys) deliberately have no flag carrying their value:
//! argv is visible to every local user in `ps`. Each comes from the environment or from a file,
//! not both (see [`crate::secrets`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use axum::http::HeaderName;
use clap::Args;
use url::Url;

use super::pages::Pages;
use crate::http_server::ConnectionLimits;
use crate::options::CommonOptions;

// No Debug: --database and --dsn-template values may carry passwords.
#[derive(Args)]
pub struct ServeOptions {
    /// Address to listen on. Port 0 picks a free port; the bound address is printed on stdout.
    #[arg(long, env = "NILE_RESET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    // --admin-listen and --log-format.
    #[command(flatten)]
    pub common: CommonOptions,

    /// A database to serve, as NAME=DSN: a postgres:// URL or a libpq key=value string,
    /// spaces and all (repeat the flag; in the environment, one entry per line, or URL entries
    /// separated by spaces). Requests for other names get 404.
    #[arg(
        long = "database",
        env = "NILE_RESET_DATABASES",
        hide_env_values = true,
        value_name = "NAME=DSN"
    )]
    pub databases: Vec<DatabaseEntries>,

    /// Connection string for every --allow-database name, with `{database}` where the name goes,
    /// e.g. postgres://nile_reset@db.internal/{database}.
    #[arg(
        long,
        env = "NILE_RESET_DSN_TEMPLATE",
        hide_env_values = true,
        requires = "allowed_databases"
    )]
    pub dsn_template: Option<String>,

    /// A database name served through --dsn-template (repeat the flag, or comma-separate).
    #[arg(
        long = "allow-database",
        env = "NILE_RESET_ALLOW_DATABASES",
        value_name = "NAME",
        value_delimiter = ',',
        requires = "dsn_template"
    )]
    pub allowed_databases: Vec<String>,

    /// File holding the cookie secret (CSRF and reset cookies are signed with it). The secret can
    /// instead come from the NILE_RESET_SECRET environment variable (not both).
    #[arg(long, env = "NILE_RESET_SECRET_FILE", value_name = "PATH")]
    pub secret_file: Option<PathBuf>,

    /// File with one `DATABASE KEY` per line (blank lines and lines starting with # are
    /// skipped; a database may have several keys; a lone KEY only when one database is served).
    /// Entries can instead come from NILE_RESET_API_KEYS (comma-separated; not both). A key of
    /// the database is required for `?json=true`, which returns reset links instead of emailing
    /// them.
    #[arg(long, env = "NILE_RESET_API_KEYS_FILE", value_name = "PATH")]
    pub api_keys_file: Option<PathBuf>,

    /// Refuse to start without a configured cookie secret (development generates a random one).
    #[arg(long, env = "NILE_RESET_PRODUCTION")]
    pub production: bool,

    /// Public URL clients reach this server at; an https:// URL turns secure cookies on when the
    /// request carries neither `nile-secure-cookies` nor `nile-origin`.
    #[arg(long, env = "NILE_RESET_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<Url>,

    /// Largest accepted request body, in bytes (larger bodies get 413).
    #[arg(long, env = "NILE_RESET_BODY_LIMIT", value_name = "BYTES", default_value_t = 16 * 1024)]
    pub body_limit: usize,

    /// Time limit for one request to the auth routes, e.g. 10s or 500ms (exceeded: 503); also
    /// the connections' statement_timeout. At most a day.
    #[arg(
        long,
        env = "NILE_RESET_REQUEST_TIMEOUT",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = at_most_a_day
    )]
    pub request_timeout: Duration,

    /// Largest number of connections kept per database.
    #[arg(long, env = "NILE_RESET_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,

    /// Time limit for getting a database connection (waiting for a free one or opening one),
    /// e.g. 5s; also bounds each /healthz check. At most a day.
    #[arg(
        long,
        env = "NILE_RESET_DB_TIMEOUT",
        value_name = "DURATION",
        default_value = "5s",
        value_parser = at_most_a_day
    )]
    pub db_timeout: Duration,

    /// Time a client has to send a request's whole head, counted from its first byte (on a
    /// kept-alive connection, from the end of the previous answer).
    #[arg(
        long,
        env = "NILE_RESET_HEADER_READ_TIMEOUT",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = at_most_a_day
    )]
    pub header_read_timeout: Duration,

    /// A connection on which nothing was read or written for this long is closed (a new one
    /// that says nothing, a stalled body). Keep it above --request-timeout, or slow database
    /// answers lose their connection.
    #[arg(
        long,
        env = "NILE_RESET_IDLE_TIMEOUT",
        value_name = "DURATION",
        default_value = "60s",
        value_parser = at_most_a_day
    )]
    pub idle_timeout: Duration,

    /// Most connections open at once; further ones wait in the accept queue.
    #[arg(long, env = "NILE_RESET_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most connections open at once from one client, by the TCP peer's address (a proxy's
    /// header is not read yet when a connection is accepted: behind a proxy, every connection
    /// is the proxy's); further ones are closed at once. 0 turns the cap off.
    #[arg(
        long,
        env = "NILE_RESET_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 64
    )]
    pub max_connections_per_client: u32,

    /// Requests to the reset routes (POST, GET and PUT) and to the CSRF route allowed per
    /// client and minute, as a bucket refilled continuously (429 beyond); 0 turns the limit off.
    #[arg(long, env = "NILE_RESET_RATE_LIMIT_PER_MINUTE", default_value_t = 30)]
    pub rate_limit_per_minute: u32,

    /// IPv6 clients count, for the rate limit and the per-client connection cap, as one per
    /// network of this many leading bits (a subscriber usually has a whole /64); IPv4 clients
    /// as one per address.
    #[arg(
        long,
        env = "NILE_RESET_IPV6_PREFIX_LENGTH",
        value_name = "BITS",
        default_value_t = 64,
        value_parser = clap::value_parser!(u8).range(1..=128)
    )]
    pub ipv6_prefix_length: u8,

    /// Header holding the client's address as set by a trusted proxy in front of this server
    /// (e.g. X-Forwarded-For; its last entry counts). Only set it behind such a proxy: otherwise
    /// clients choose their own address. Without it, the socket's peer address counts.
    #[arg(long, env = "NILE_RESET_CLIENT_IP_HEADER", value_name = "NAME")]
    pub client_ip_header: Option<HeaderName>,

    /// Answer every reset request without an API key 201, whether or not an email was queued
    /// (OWASP's uniform answer). By default the answers follow Nile: 201 queued, 200 not (an
    /// unknown email, or asked again too soon), which a client can tell apart.
    #[arg(long, env = "NILE_RESET_UNIFORM_STATUS")]
    pub uniform_status: bool,

    /// Least time a reset request (POST) or a link check (GET) takes to answer, so that one
    /// that queues an email (or finds a token) and one that does not take the same time; 0
    /// turns it off. At most a minute.
    #[arg(
        long,
        env = "NILE_RESET_MIN_RESPONSE_TIME",
        value_name = "DURATION",
        default_value = "50ms",
        value_parser = zero_or_at_most_a_minute
    )]
    pub min_response_time: Duration,

    /// Serve the reference pages under /v2/databases/{database}/auth/pages/: forgot-password
    /// (the email field), reset-password (where the emailed link lands) and done. Their origin
    /// (--public-url's, else the one browsers reach) must be a trusted origin of the database.
    #[arg(long, env = "NILE_RESET_PAGES")]
    pub pages: bool,

    /// Folder with the pages' texts and stylesheet, over the built-in ones: LANGUAGE.toml
    /// files (en and de change those languages, others add one) and style.css. Needs --pages.
    #[arg(long, env = "NILE_RESET_PAGES_DIR", value_name = "PATH")]
    pub pages_dir: Option<PathBuf>,
}

impl ServeOptions {
    /// The reference pages, when --pages asks for them, with --pages-dir's texts and
    /// stylesheet.
    pub fn pages(&self) -> anyhow::Result<Option<Pages>> {
        match (self.pages, &self.pages_dir) {
            (false, None) => Ok(None),
            (false, Some(_)) => anyhow::bail!("--pages-dir needs --pages"),
            (true, dir) => Pages::load(dir.as_deref()).map(Some),
        }
    }

    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections as usize,
            max_connections_per_client: self.max_connections_per_client as usize,
            ipv6_prefix_length: self.ipv6_prefix_length,
        }
    }
}

/// The entries of one `--database` value: one, or for the environment's form several, one per
/// line, or separated by spaces where the next entry is `NAME=postgres://...` (the form that
/// separated them by spaces before key=value strings were accepted: a space inside a
/// key=value string is never followed by a URL).
#[derive(Clone)]
pub struct DatabaseEntries(pub Vec<NamedDatabase>);

impl FromStr for DatabaseEntries {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut entries = Vec::new();
        for line in value.lines().map(str::trim).filter(|line| !line.is_empty()) {
            let mut start = 0;
            let words: Vec<(usize, &str)> = line
                .split(' ')
                .scan(0, |offset, word| {
                    let at = *offset;
                    *offset += word.len() + 1;
                    Some((at, word))
                })
                .collect();
            for &(at, word) in &words[1..] {
                if starts_an_url_entry(word) {
                    entries.push(line[start..at].trim().parse()?);
                    start = at;
                }
            }
            entries.push(line[start..].trim().parse()?);
        }
        if entries.is_empty() {
            return Err("expected NAME=DSN".to_owned());
        }
        Ok(DatabaseEntries(entries))
    }
}

fn starts_an_url_entry(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, dsn)| {
        !name.is_empty() && (dsn.starts_with("postgres://") || dsn.starts_with("postgresql://"))
    })
}

/// One `--database NAME=DSN` entry. DSNs may hold passwords, hence `hide_env_values` above:
/// `--help` would otherwise print the environment's value.
#[derive(Clone)]
pub struct NamedDatabase {
    pub name: String,
    pub dsn: String,
}

impl FromStr for NamedDatabase {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (name, dsn) = value
            .split_once('=')
            .ok_or_else(|| "expected NAME=DSN".to_owned())?;
        if dsn.is_empty() {
            return Err(format!("database {name:?} has an empty DSN"));
        }
        Ok(NamedDatabase {
            name: name.to_owned(),
            dsn: dsn.to_owned(),
        })
    }
}

/// The request timeout becomes statement_timeout, whose milliseconds must fit PostgreSQL's
/// integer; a day is far beyond any useful value of either timeout.
fn at_most_a_day(text: &str) -> Result<Duration, String> {
    let duration = crate::duration::parse(text)?;
    if duration > Duration::from_secs(86_400) {
        return Err(format!("`{text}` is longer than a day"));
    }
    Ok(duration)
}

/// A latency floor: 0 (off) or a positive duration up to a minute.
fn zero_or_at_most_a_minute(text: &str) -> Result<Duration, String> {
    if text.trim().parse::<f64>() == Ok(0.0) {
        return Ok(Duration::ZERO);
    }
    let duration = crate::duration::parse(text)?;
    if duration > Duration::from_secs(60) {
        return Err(format!("`{text}` is longer than a minute"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::LogFormat;
    use crate::options::parse_without_env;

    #[test]
    fn the_default_connection_limits_are_the_flags_defaults() {
        // send's admin server has no such flags and uses ConnectionLimits::default().
        let options: ServeOptions = parse_without_env(&[]).unwrap();
        assert_eq!(options.connection_limits(), ConnectionLimits::default());
    }

    #[test]
    fn the_ipv6_prefix_length_is_one_to_128_bits() {
        let prefix = |bits: &str| {
            parse_without_env::<ServeOptions>(&["--ipv6-prefix-length", bits])
                .map(|options| options.connection_limits().ipv6_prefix_length)
        };
        assert_eq!(prefix("1").unwrap(), 1);
        assert_eq!(prefix("128").unwrap(), 128);
        assert!(prefix("0").is_err());
        assert!(prefix("129").is_err());
    }

    #[test]
    fn logs_are_text_unless_asked_for_json() {
        let options: ServeOptions = parse_without_env(&[]).unwrap();
        assert_eq!(options.common.log_format, LogFormat::Text);
        let options: ServeOptions = parse_without_env(&["--log-format", "json"]).unwrap();
        assert_eq!(options.common.log_format, LogFormat::Json);
    }

    #[test]
    fn database_arg_splits_at_the_first_equals_sign() {
        let arg: NamedDatabase = "app=postgres://u@h/app?options=-c%20a=b".parse().unwrap();
        assert_eq!(arg.name, "app");
        assert_eq!(arg.dsn, "postgres://u@h/app?options=-c%20a=b");
        assert!("no-dsn".parse::<NamedDatabase>().is_err());
        assert!("app=".parse::<NamedDatabase>().is_err());
    }

    #[test]
    fn key_value_dsns_keep_their_spaces_and_entries_split_where_they_should() {
        let names = |value: &str| -> Vec<(String, String)> {
            let entries: DatabaseEntries = value.parse().unwrap();
            entries.0.into_iter().map(|e| (e.name, e.dsn)).collect()
        };
        assert_eq!(
            names("app=host=/var/run/postgresql dbname=app user=mailer"),
            [(
                "app".into(),
                "host=/var/run/postgresql dbname=app user=mailer".into()
            )]
        );
        assert_eq!(
            names("a=postgres://u@h/a b=postgresql://u@h/b"),
            [
                ("a".into(), "postgres://u@h/a".into()),
                ("b".into(), "postgresql://u@h/b".into())
            ]
        );
        assert_eq!(
            names("a=host=db dbname=a\nb=host=db dbname=b\n"),
            [
                ("a".into(), "host=db dbname=a".into()),
                ("b".into(), "host=db dbname=b".into())
            ]
        );
        assert!("".parse::<DatabaseEntries>().is_err());
        assert!("no-dsn".parse::<DatabaseEntries>().is_err());
    }

    #[test]
    fn pages_are_off_unless_asked_for() {
        let options: ServeOptions = parse_without_env(&[]).unwrap();
        assert!(options.pages().unwrap().is_none());
        let options: ServeOptions = parse_without_env(&["--pages"]).unwrap();
        assert_eq!(options.pages().unwrap().unwrap().languages(), ["en", "de"]);
        let options: ServeOptions = parse_without_env(&["--pages-dir", "/tmp"]).unwrap();
        assert!(options.pages().is_err());
    }

    #[test]
    fn the_latency_floor_may_be_zero() {
        assert_eq!(zero_or_at_most_a_minute("0").unwrap(), Duration::ZERO);
        assert_eq!(
            zero_or_at_most_a_minute("50ms").unwrap(),
            Duration::from_millis(50)
        );
        assert!(zero_or_at_most_a_minute("61s").is_err());
        assert!(zero_or_at_most_a_minute("-1").is_err());
    }

    #[test]
    fn timeouts_take_units_or_bare_seconds_up_to_a_day() {
        assert_eq!(at_most_a_day("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(at_most_a_day("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(at_most_a_day("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(at_most_a_day("24h").unwrap(), Duration::from_secs(86_400));
        for text in ["0", "-3", "soon", "25h"] {
            assert!(at_most_a_day(text).is_err(), "{text:?} was accepted");
        }
    }
}
