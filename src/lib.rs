//! nile_reset: Nile-compatible password reset inside PostgreSQL.
//!
//! Tokens are created in the caller's transaction, stored only hashed, and
//! the reset email is queued in an outbox table in that same transaction,
//! with a NOTIFY that wakes an external sender on commit.

use pgrx::prelude::*;

mod error;
mod generate;
mod links;
mod origins;
mod outbox;
mod password;
mod plans;
mod reset;
mod settings;
mod templates;
mod token;

::pgrx::pg_module_magic!();

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/sender.sql", name = "sender", requires = ["schema"]);
extension_sql_file!("../sql/wakeup.sql", name = "wakeup", requires = ["schema"]);
extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn generate_stores_only_the_hash_and_queues_the_link() {
        Spi::run("INSERT INTO users.users (email, name) VALUES ('Jane@Example.com', 'Jane')")
            .unwrap();
        Spi::run("SELECT auth.add_trusted_origin('https://app.example.com')").unwrap();
        let created = Spi::get_one::<bool>(
            "SELECT created FROM auth.generate_password_token(
                'jane@example.com', 'https://app.example.com/done', 'https://app.example.com/reset')",
        )
        .unwrap();
        assert_eq!(created, Some(true));
        let body = Spi::get_one::<String>("SELECT body FROM auth.email_outbox")
            .unwrap()
            .unwrap();
        let token = body
            .split("token=")
            .nth(1)
            .and_then(|rest| rest.get(..64))
            .expect("the body carries the link");
        let stored = Spi::get_one::<String>("SELECT token FROM auth.verification_tokens")
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
            Spi::get_one::<i64>("SELECT count(*) FROM auth.email_outbox").unwrap(),
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
        }
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
