//! Code the application's table owner wrote runs inside the extension's calls (a `user_filter`,
//! an `on_password_reset` function, triggers). A session-level advisory lock it takes must not
//! stay with the pooled connection, where the next request, for anyone, would inherit it.

use reqwest::StatusCode;

use crate::support::Fixture;

use super::alice_request;

/// The key the owner's function locks.
const OWNER_LOCK: i64 = 424_242;

#[tokio::test]
async fn a_session_lock_taken_by_owner_code_does_not_outlive_the_request() {
    let f = Fixture::new("http_owner_lock").await;
    f.db.batch_execute(&format!(
        "CREATE TABLE public.accounts (id bigint PRIMARY KEY, email text NOT NULL,
                                       password text NOT NULL, active boolean NOT NULL);
         INSERT INTO public.accounts
              VALUES (1, 'alice@example.com', '$2b$10$' || repeat('a', 53), true);
         CREATE FUNCTION public.active_and_locked(active boolean) RETURNS boolean
         LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM pg_catalog.pg_advisory_lock({OWNER_LOCK});
             RETURN active;
         END $$;
         SELECT auth.use_user_table('public.accounts', 'id', 'email', 'password', 'bcrypt',
             user_filter => 'public.active_and_locked(active)');"
    ))
    .await
    .unwrap();

    let response = f.request_reset(alice_request()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(f.outbox_count().await, 1, "the filter let Alice through");

    let held: i64 =
        f.db.query_one(
            "SELECT count(*) FROM pg_catalog.pg_locks
              WHERE locktype = 'advisory' AND objid = $1::bigint::oid
                AND pid <> pg_catalog.pg_backend_pid()",
            &[&OWNER_LOCK],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        held, 0,
        "the shim's pooled connection still holds the owner's lock"
    );
}
