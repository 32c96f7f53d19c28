//! The companion of the nile_reset PostgreSQL extension: Nile's reset-password HTTP API
//! (`serve`) and the outbox email sender (`send`), as a library behind the thin `nile-reset`
//! binary (src/main.rs only parses the command line and calls [`serve::run`] or [`send::run`]).
//!
//! Where things live:
//!
//! | module | owns |
//! |---|---|
//! | [`options`] | the options both subcommands take, flattened into each: `--admin-listen`, `--log-format` (default `text`) |
//! | [`database`] | connection settings (URL, PGPASSWORD, the TLS connector), pools, safe error descriptions, the extension version check ([`database::EXTENSION_VERSION`]) |
//! | [`duration`] | the one duration syntax of every flag (humantime, or bare seconds) |
//! | [`secrets`] | the one rule for secrets (cookie secret, API keys, SMTP password): from a file or from the environment, both set is an error at start |
//! | [`backoff`] | the one growing pause of every retry loop (doubling from a base up to a cap, reset on success, optional jitter) |
//! | [`logging`] | the one log set-up; keeps tokio-postgres' query parameters out of logs |
//! | [`tls`] | TLS to PostgreSQL: libpq's `sslmode` (disable/prefer/require/verify-ca/verify-full) and `sslrootcert`, through rustls |
//! | [`shutdown`] | the one stop signal (SIGTERM or SIGINT), cancelling one root token that the servers and the sender's worker hold clones of (the sender's LISTEN session closes later, once the worker is done) |
//! | [`http_server`] | the one accept loop (connection cap, per-client cap, header-read and idle timeouts) of serve's API and of both admin servers; what a client is (`client_of`: an IPv4 address, an IPv6 network) |
//! | [`admin`] | the admin server both subcommands run on --admin-listen (/healthz and /metrics; each brings its router) |
//! | [`openmetrics`] | the one way to answer a Prometheus scrape |
//! | [`serve`] | the HTTP API: `options` (flags), `ServeConfig` and `routers` (the applications as plain values, which `run` serves), `routes/` (handlers; `routes::admin_router` is its /healthz and /metrics), `sql_api` (the SQL calls and the token statuses), `cookies` and `secret` (Nile's CSRF and reset cookies), `keys` (API keys per database, bearer or cookie), `callback_url` (relative and cookie callback URLs), `password_policy` (the new-password check before a link), `databases` (one pool per served database), `state` (what handlers share), `error` (status codes), `rate_limit` (per-client buckets), `extract` (bodies without repeated keys, the rate-limit extractor), `observe` and `metrics` |
//! | [`send`] | the sender: `options` (flags), `limits` (checked against `auth.sender_limits()`; the default channel), `outbox` (the SQL calls, grouped acknowledgements, deferrals), `worker` (the drain loop, the relay backoff), `listener` and `wakeup` (LISTEN, auth.sender_start/sleep/awake/stop), `message` (RFC 5322, multipart/alternative), `mailer` (failure classes) and `smtp` (the relay: own TCP_NODELAY connections, kept open), `metrics`, `admin` (its /metrics and /healthz) |
//!
//! Every rule about tokens, users, origins, passwords and the outbox lives in the extension's
//! SQL; this crate checks only what HTTP and SMTP need, and asks the SQL for the rest.
//!
//! Tests: one integration binary, `tests/it/`: `router.rs` drives the router in-process;
//! `http/` (one file per route or topic), `sdk_flow.rs`, `sender.rs`, `wakeup.rs`, `tls.rs` and
//! `database.rs` run the real binary against real PostgreSQL (and SMTP) through the one harness
//! in `it/support/`, whose `tables.rs` holds every direct access to the extension's tables.

pub mod admin;
pub mod backoff;
pub mod database;
pub mod duration;
pub mod http_server;
pub mod logging;
pub mod openmetrics;
pub mod options;
pub mod secrets;
pub mod send;
pub mod serve;
pub mod shutdown;
pub mod tls;
