//! The integration tests of nile_reset_shim, one test binary: the harness in `support`, then a
//! module per subject.
//!
//! | module | what it drives |
//! |---|---|
//! | `router` | the HTTP application in-process, for every answer that needs no database |
//! | `http` | `nile-reset serve` over real sockets against real PostgreSQL, a file per route or concern |
//! | `sdk_flow` | what Nile's SDK needs of `nile-reset serve` |
//! | `sender` | `nile-reset send` with real PostgreSQL and SMTP, faults injected |
//! | `wakeup` | how soon the sender looks, under load (latency measurements) |
//! | `database` | what both subcommands share: PGPASSWORD, waiting for the database |
//! | `tls` | libpq's sslmode meanings against a PostgreSQL with TLS |

mod support;

mod database;
mod http;
mod router;
mod sdk_flow;
mod sender;
mod socket;
mod tls;
mod wakeup;
