//! nile_reset: Nile-compatible password reset inside PostgreSQL.
//!
//! Tokens are created in the caller's transaction, stored only hashed, and
//! the reset email is queued in an outbox table in that same transaction,
//! with a NOTIFY that wakes an external sender on commit. Users and their
//! passwords stay in the application's own table (the user directory).
//!
//! Where things live:
//! - `generate`   `auth.generate_password_token` / `_link`: the request.
//! - `reset`      `auth.verify_password_token`, `auth.reset_password`.
//! - `directory`  the user directory: its stored configuration, read by
//!   `load`; `configure`: `auth.use_user_table`, `auth.use_nile_users`,
//!   `auth.use_email_lookup` (the app's email-keyed lookup table) and Nile's
//!   tables; `catalog`: their checks; `filter`: the app's rule of who may
//!   reset (`user_filter`), checked by PostgreSQL's parser; `hook`:
//!   `on_password_reset`, what a reset ends; `statements`: reading users and
//!   writing passwords in the application's table (run as its owner).
//! - `admin`      this database's administrators: `auth.grant_admin`,
//!   `auth.revoke_admin`, `auth.admins()`.
//! - `citus`      `auth.use_citus()`: the supported Citus layout, checked;
//!   refusals on Citus workers.
//! - `password`   the new-password policy and the hash formats.
//! - `token`      token generation, hashing, comparison; OS randomness.
//! - `status`     token status spellings (`auth.verify_password_token`).
//! - `email`      the rule for the email a reset is requested for.
//! - `links`      URL and origin rules, Nile's link format.
//! - `origins`    `auth.add_trusted_origin` and friends.
//! - `outbox`     rendered emails queued in `nile_reset.email_outbox`; the
//!   wake-up NOTIFY and its advisory lock key.
//! - `templates`  templates loaded from `nile_reset.email_templates`;
//!   `${name}` rendering.
//! - `settings`   the `nile_reset.*` GUCs.
//! - `cache`      the per-backend cache of the directory, origins and
//!   templates, and its invalidation (`nile_reset.configuration_changed`).
//! - `one_row`    set-returning functions answered in one call (their one
//!   row ends the set).
//! - `spi`        kept plans, columns read by name, running as another role.
//! - `error`      SQLSTATEs and messages.
//! - `sql/schema.sql`    install guard, the `nile_reset` schema and tables.
//! - `sql/sender.sql`    the sender's contract and `auth.sender_limits()`.
//! - `sql/wakeup.sql`    wake-ups: the sleep and presence locks.
//! - `sql/directory.sql` SQL signatures of the user-directory functions.
//! - `sql/admin.sql`     the record of this database's administrators.
//! - `sql/cache.sql`     the triggers that invalidate the cache.
//! - `sql/privileges.sql` what PUBLIC may do (administrators: `admin`).

use pgrx::prelude::*;

mod admin;
mod cache;
mod citus;
mod directory;
mod email;
mod error;
mod generate;
mod links;
mod one_row;
mod origins;
mod outbox;
mod password;
mod reset;
mod settings;
mod spi;
mod status;
mod templates;
mod token;

::pgrx::pg_module_magic!();

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/sender.sql", name = "sender", requires = ["schema"]);
extension_sql_file!("../sql/wakeup.sql", name = "wakeup", requires = ["schema"]);
extension_sql_file!(
    "../sql/directory.sql",
    name = "directory",
    requires = [
        "schema",
        directory::configure::nile_reset::configure_user_table,
        directory::configure::nile_reset::configure_nile_users,
        directory::configure::nile_reset::configure_email_lookup
    ]
);
extension_sql_file!(
    "../sql/cache.sql",
    name = "cache",
    requires = ["schema", cache::nile_reset::configuration_changed]
);
extension_sql_file!("../sql/admin.sql", name = "admin", requires = ["schema"]);
extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    // A Rust panic becomes an ERROR whose DETAIL would carry a backtrace
    // (source paths, call chain) whenever the server runs with RUST_BACKTRACE
    // set: clients never get one, whatever the server's environment. The
    // variable wins over RUST_BACKTRACE and is read before the first capture;
    // a backend loads this library while it is still single-threaded.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// A bug, as a panic: what a client sees of it.
    #[pg_extern]
    fn panic_for_test() {
        let nothing: Option<i32> = std::hint::black_box(None);
        let _ = nothing.expect("a bug in the test function");
    }

    /// The test server runs with RUST_BACKTRACE=1 (pgrx sets it): the error
    /// a panic becomes still carries no backtrace for the client.
    #[pg_test]
    fn a_panic_reaches_the_client_without_a_backtrace() {
        let detail = PgTryBuilder::new(|| {
            Spi::run("SELECT tests.panic_for_test()").unwrap();
            None
        })
        .catch_others(|error| {
            let report = crate::error::report_of(&error);
            Some(format!(
                "{} / {}",
                report.message(),
                report.detail_with_backtrace().unwrap_or_default()
            ))
        })
        .execute()
        .expect("the panic was not raised");
        assert!(detail.contains("a bug in the test function"), "{detail}");
        assert!(
            !detail.contains("rust_begin_unwind") && !detail.contains(".rs:"),
            "{detail}"
        );
    }

    fn nile_users() {
        Spi::run("SELECT auth.use_nile_users()").unwrap();
    }

    #[pg_test]
    fn generate_stores_only_the_hash_and_queues_the_link() {
        nile_users();
        Spi::run("INSERT INTO users.users (email, name) VALUES ('Jane@Example.com', 'Jane')")
            .unwrap();
        Spi::run("SELECT auth.add_trusted_origin('https://app.example.com')").unwrap();
        let created = Spi::get_one::<bool>(
            "SELECT created FROM auth.generate_password_token(
                'jane@example.com', 'https://app.example.com/done', 'https://app.example.com/reset')",
        )
        .unwrap();
        assert_eq!(created, Some(true));
        let body = Spi::get_one::<String>("SELECT body FROM nile_reset.email_outbox")
            .unwrap()
            .unwrap();
        let token = body
            .split("token=")
            .nth(1)
            .and_then(|rest| rest.get(..64))
            .expect("the body carries the link");
        let stored = Spi::get_one::<String>("SELECT token FROM nile_reset.verification_tokens")
            .unwrap()
            .unwrap();
        assert_ne!(stored, token);
        assert_eq!(stored, crate::token::digest(token));
        let status = Spi::get_one_with_args::<String>(
            "SELECT status FROM auth.verify_password_token('jane@example.com', $1)",
            &[token.into()],
        )
        .unwrap();
        assert_eq!(status.as_deref(), Some("valid"));
    }

    #[pg_test]
    fn kept_plans_survive_repeated_calls() {
        nile_users();
        Spi::run("SELECT auth.add_trusted_origin('https://app.example.com')").unwrap();
        Spi::run("INSERT INTO users.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 20) g")
            .unwrap();
        let created = Spi::get_one::<i64>(
            "SELECT count(*) FILTER (WHERE (r).created) FROM (
                SELECT auth.generate_password_token('u' || g || '@example.com',
                       'https://app.example.com/', 'https://app.example.com/r') AS r
                  FROM generate_series(1, 20) g) s",
        )
        .unwrap();
        assert_eq!(created, Some(20));
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM nile_reset.email_outbox").unwrap(),
            Some(20)
        );
    }

    #[pg_test]
    fn wakeup_lock_key_matches_the_sql_function() {
        for channel in ["nile_reset_email", "other"] {
            let sql =
                Spi::get_one_with_args::<i64>("SELECT auth.wakeup_lock_key($1)", &[channel.into()])
                    .unwrap();
            assert_eq!(sql, Some(crate::outbox::wakeup_lock_key(channel)));
            let presence = Spi::get_one_with_args::<i64>(
                "SELECT nile_reset.presence_lock_key($1)",
                &[channel.into()],
            )
            .unwrap();
            assert_eq!(presence, Some(crate::outbox::presence_lock_key(channel)));
        }
    }

    #[pg_test]
    fn sender_limits_agree_with_the_settings() {
        let channel = Spi::get_one::<String>("SELECT default_channel FROM auth.sender_limits()")
            .unwrap()
            .unwrap();
        assert_eq!(channel, crate::settings::DEFAULT_CHANNEL);
        let accepts = |name: &str| {
            Spi::get_one_with_args::<bool>(
                "SELECT $1 ~ channel_pattern FROM auth.sender_limits()",
                &[name.into()],
            )
            .unwrap()
            .unwrap()
        };
        for name in [
            "nile_reset_email",
            "a",
            &"x".repeat(63),
            "",
            &"x".repeat(64),
            "a-b",
            "a b",
        ] {
            assert_eq!(
                accepts(name),
                crate::settings::is_channel_name(name),
                "{name:?}"
            );
        }
    }

    /// The argon2id hash a reset writes into the app's column is accepted
    /// by the argon2 crate's verifier (what argon2-cffi/Django compute).
    #[pg_test]
    fn reset_writes_an_argon2id_hash_the_verifier_accepts() {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        Spi::run(
            "CREATE TABLE public.people (id bigint PRIMARY KEY, email text NOT NULL, pw text);
             INSERT INTO public.people VALUES (7, 'kim@example.com', NULL);
             SELECT auth.use_user_table('public.people', 'id', 'email', 'pw', 'argon2id');
             SELECT auth.add_trusted_origin('https://app.example.com');",
        )
        .unwrap();
        let link = Spi::get_one::<String>(
            "SELECT link FROM auth.generate_password_link(
                'kim@example.com', 'https://app.example.com/', 'https://app.example.com/r')",
        )
        .unwrap()
        .unwrap();
        let token = link
            .split("token=")
            .nth(1)
            .and_then(|rest| rest.get(..64))
            .expect("the link carries the token");
        let id = Spi::get_one_with_args::<String>(
            "SELECT auth.reset_password('kim@example.com', $1, 'correct horse battery')",
            &[token.into()],
        )
        .unwrap();
        assert_eq!(id.as_deref(), Some("7"));
        let stored = Spi::get_one::<String>("SELECT pw FROM public.people WHERE id = 7")
            .unwrap()
            .unwrap();
        let parsed = PasswordHash::new(&stored).unwrap();
        let verifier = argon2::Argon2::default();
        assert!(verifier
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        assert!(verifier.verify_password(b"wrong", &parsed).is_err());
    }

    #[pg_test(error = "nile_reset has no user directory configured")]
    fn unconfigured_directory_is_an_error() {
        Spi::run("SELECT auth.add_trusted_origin('https://a.example')").unwrap();
        Spi::run(
            "SELECT auth.generate_password_token('a@example.com', 'https://a.example', 'https://a.example')",
        )
        .unwrap();
    }

    #[pg_test(error = "email must not be null")]
    fn null_email_is_an_error() {
        Spi::run(
            "SELECT auth.generate_password_token(NULL, 'https://a.example', 'https://a.example')",
        )
        .unwrap();
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
