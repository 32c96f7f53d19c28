//! The allow-list of origins that reset links and callbacks may point to.

use std::collections::HashSet;
use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::{or_raise, required};
use crate::links::{origin_of, parse_http_url, parse_origin};
use crate::spi::{not_null, query, Statement};

/// Trusts `origin` (e.g. `https://app.example.com`); returns it normalized.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn add_trusted_origin(origin: Option<&str>) -> String {
    let origin = or_raise(parse_origin(required(origin, "origin")));
    Spi::run_with_args(
        "INSERT INTO nile_reset.trusted_origins (origin) VALUES ($1) ON CONFLICT DO NOTHING",
        &[origin.as_str().into()],
    )
    .unwrap_or_else(|e| crate::spi::spi_failed(e));
    origin
}

/// Stops trusting `origin`; false when it was not trusted.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn remove_trusted_origin(origin: Option<&str>) -> bool {
    let origin = or_raise(parse_origin(required(origin, "origin")));
    Spi::get_one_with_args::<bool>(
        "WITH gone AS (DELETE FROM nile_reset.trusted_origins WHERE origin = $1 RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM gone)",
        &[origin.as_str().into()],
    )
    .unwrap_or_else(|e| crate::spi::spi_failed(e))
    .unwrap_or(false)
}

/// Is `url` an absolute http(s) URL, by the same rules as the reset
/// functions, whose origin is trusted? For callers that redirect to a URL
/// they were handed (the HTTP shim's `callbackUrl`): never an error, so a
/// hostile URL costs nothing but a `false`.
#[pg_extern(security_definer, stable, strict)]
#[search_path(pg_catalog, pg_temp)]
fn is_trusted_url(url: &str) -> bool {
    let Ok(parsed) = parse_http_url("url", url) else {
        return false;
    };
    crate::cache::begin_call();
    Spi::connect(|client| is_trusted(client, &origin_of(&parsed)))
}

const ALL_ORIGINS: Statement = Statement {
    sql: "SELECT origin FROM nile_reset.trusted_origins",
    args: &[],
};

thread_local! {
    static TRUSTED: crate::cache::Slot<Rc<HashSet<String>>> = const { crate::cache::Slot::new() };
}

/// Whether `origin` (as `origin_of` spells it) is in nile_reset.trusted_origins,
/// from the backend's cache (src/cache.rs). A read: it gives the
/// transaction no id.
pub fn is_trusted(client: &SpiClient<'_>, origin: &str) -> bool {
    TRUSTED
        .with(|trusted| {
            trusted.get(|| {
                crate::cache::watch_own_table(c"trusted_origins");
                let rows = query(client, &ALL_ORIGINS, &[]);
                Rc::new(
                    rows.into_iter()
                        .map(|row| not_null::<String>(&row, "origin"))
                        .collect(),
                )
            })
        })
        .contains(origin)
}
