//! Code the application's table owner wrote runs inside the extension's calls (a `user_filter`,
//! an `on_password_reset` function, triggers). A session-level advisory lock it takes must not
//! stay with the pooled connection, where the next request, for anyone, would inherit it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::statements::StatementLog;
use crate::support::{Cluster, Fixture};

use super::alice_request;

/// The key the owner's function locks.
const OWNER_LOCK: i64 = 424_242;

#[tokio::test]
async fn a_session_lock_taken_by_owner_code_does_not_outlive_the_request() {
    let f = Fixture::new("http_owner_lock").await;
    accounts_with_locking_filter(&f, "", "").await;

    let response = f.request_reset(alice_request()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(f.outbox_count().await, 1, "the filter let Alice through");

    assert_eq!(
        owner_locks_held(&f).await,
        0,
        "the shim's pooled connection still holds the owner's lock"
    );
}

/// The release costs nothing extra: a request is one statement, which releases the session's
/// locks itself once its row is computed.
#[tokio::test]
async fn a_reset_request_is_one_statement_that_releases_session_locks() {
    let name = "http_owner_lock_one_statement";
    let log = StatementLog::start(Cluster::shared().port);
    let f = Fixture::with_dsn(name, &log.url(name), &[]).await;
    let cookie = f.csrf_cookie().await;
    log.take();
    let response = f
        .http
        .post(f.api(crate::support::fixture::RESET))
        .header(reqwest::header::COOKIE, cookie)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let statements = log.take();
    assert_eq!(statements.len(), 1, "{statements:#?}");
    assert!(
        statements[0].contains("auth.generate_password_token")
            && statements[0].contains("pg_advisory_unlock_all"),
        "{statements:#?}"
    );
}

/// The lock is taken, then the call fails: the statement never reached the part that releases
/// it, so a statement of its own must, and the connection stays usable.
#[tokio::test]
async fn a_session_lock_taken_before_an_error_does_not_outlive_the_request() {
    let f = Fixture::new("http_owner_lock_error").await;
    accounts_with_locking_filter(
        &f,
        "CREATE TABLE public.filter_broken (broken boolean NOT NULL);
         INSERT INTO public.filter_broken VALUES (true);",
        "IF (SELECT broken FROM public.filter_broken) THEN
             RAISE EXCEPTION 'the filter broke';
         END IF;",
    )
    .await;

    // A database failure, in Nile's words.
    let response = f.request_reset(alice_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.text().await.unwrap(), "Unable to process request");
    assert_eq!(f.outbox_count().await, 0);
    assert_eq!(
        owner_locks_held(&f).await,
        0,
        "a failed call left the owner's lock on the pooled connection"
    );

    f.db.batch_execute("UPDATE public.filter_broken SET broken = false")
        .await
        .unwrap();
    let response = f.request_reset(alice_request()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(owner_locks_held(&f).await, 0);
}

/// The lock is taken, then the request runs out of time: the abandoned connection is closed,
/// and its session's locks end with it.
#[tokio::test]
async fn a_session_lock_taken_by_a_request_that_timed_out_does_not_outlive_it() {
    let f = Fixture::with_args("http_owner_lock_timeout", &["--request-timeout", "1"]).await;
    accounts_with_locking_filter(&f, "", "PERFORM pg_catalog.pg_sleep(3);").await;

    let response = f.request_reset(alice_request()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let deadline = Instant::now() + Duration::from_secs(10);
    while owner_locks_held(&f).await != 0 {
        assert!(
            Instant::now() < deadline,
            "the owner's lock outlived the timed-out request"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(f.outbox_count().await, 0);
}

/// Sessions other than the test's own holding the owner's lock in the test's database (the
/// other tests here lock the same key in theirs).
async fn owner_locks_held(f: &Fixture) -> i64 {
    f.db.query_one(
        "SELECT count(*) FROM pg_catalog.pg_locks
         WHERE locktype = 'advisory' AND objid = $1::bigint::oid
           AND database = (SELECT oid FROM pg_catalog.pg_database
                            WHERE datname = pg_catalog.current_database())
           AND pid <> pg_catalog.pg_backend_pid()",
        &[&OWNER_LOCK],
    )
    .await
    .unwrap()
    .get(0)
}

/// The application's own users table with Alice, read through the owner's filter
/// `public.owner_filter(active)`, which takes the session-level lock `OWNER_LOCK`, then runs
/// `after_lock`; `setup` runs first.
async fn accounts_with_locking_filter(f: &Fixture, setup: &str, after_lock: &str) {
    f.db.batch_execute(&format!(
        "CREATE TABLE public.accounts (id bigint PRIMARY KEY, email text NOT NULL,
                                       password text NOT NULL, active boolean NOT NULL);
         INSERT INTO public.accounts
              VALUES (1, 'alice@example.com', '$2b$10$' || repeat('a', 53), true);
         {setup}
         CREATE FUNCTION public.owner_filter(active boolean) RETURNS boolean
         LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM pg_catalog.pg_advisory_lock({OWNER_LOCK});
             {after_lock}
             RETURN active;
         END $$;
         SELECT auth.use_user_table('public.accounts', 'id', 'email', 'password', 'bcrypt',
             user_filter => 'public.owner_filter(active)');"
    ))
    .await
    .unwrap();
}
