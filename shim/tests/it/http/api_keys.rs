//! API keys belong to a database: one shim serving several databases gives a key's holder
//! reset links for its own database's users only, and refuses at start a key file that does
//! not say which database a key is for.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

use super::alice_request;
use crate::support::fixture::{app_database, client, RESET};
use crate::support::ports::REFUSED;
use crate::support::process::SECRET;
use crate::support::tables::TOKENS;
use crate::support::{run_to_exit, scratch_dir, Cluster, Fixture, Shim};

const KEY_A: &str = "key-of-a-0123456789abcdef";
const KEY_B: &str = "key-of-b-0123456789abcdef";
/// B's second key, as during a rotation.
const KEY_B_NEW: &str = "new-key-of-b-0123456789abcdef";

/// Writes `content` as the keys file in `dir`; its path.
fn keys_file(dir: &Path, content: &str) -> String {
    let path = dir.join("api-keys");
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The reset tokens `db` holds, whole rows as text: a new link replaces a user's token.
async fn tokens(db: &tokio_postgres::Client) -> String {
    db.query_one(
        &format!("SELECT coalesce(string_agg(t::text, ' ' ORDER BY t::text), '') FROM {TOKENS} t"),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_key_gets_links_for_its_own_database_only() {
    let cluster = Cluster::shared();
    let (a, b) = ("http_keys_a", "http_keys_b");
    let db_a = app_database(cluster, a).await;
    let db_b = app_database(cluster, b).await;
    let dir = scratch_dir("http-keys-scoped");
    let file = keys_file(
        &dir,
        &format!("# one line per key\n{a} {KEY_A}\n\n{b}\t{KEY_B}\n{b} {KEY_B_NEW}\n"),
    );
    let (serve_a, serve_b) = (
        format!("{a}={}", cluster.url(a)),
        format!("{b}={}", cluster.url(b)),
    );
    let shim = Shim::start_with_env(
        "http_keys_scoped",
        &[
            "--database",
            &serve_a,
            "--database",
            &serve_b,
            "--api-keys-file",
            &file,
            "--rate-limit-per-minute",
            "0",
        ],
        &[("NILE_RESET_API_KEYS", "")],
    );
    let http = client();
    let post = |database: &str, header: (&str, String)| {
        http.post(shim.url(&format!("/v2/databases/{database}{RESET}?json=true")))
            .header(header.0, header.1)
            .json(&alice_request())
    };
    let bearer = |key: &str| ("authorization", format!("Bearer {key}"));
    let cookie = |key: &str| ("cookie", format!("nile-reset.api-key={key}"));

    // Each key gets a link for its own database, by either carrier.
    for (database, header) in [
        (a, bearer(KEY_A)),
        (a, cookie(KEY_A)),
        (b, bearer(KEY_B)),
        (b, cookie(KEY_B_NEW)),
    ] {
        let response = post(database, header.clone()).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{database} {header:?}"
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["url"].as_str().unwrap().contains("token="), "{body}");
    }
    let issued = (tokens(&db_a).await, tokens(&db_b).await);
    assert!(!issued.0.is_empty() && !issued.1.is_empty(), "{issued:?}");

    // No key opens the other database, by either carrier.
    for (database, header) in [
        (b, bearer(KEY_A)),
        (b, cookie(KEY_A)),
        (a, bearer(KEY_B)),
        (a, cookie(KEY_B_NEW)),
    ] {
        let response = post(database, header.clone()).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{database} {header:?}"
        );
    }
    assert_eq!(
        (tokens(&db_a).await, tokens(&db_b).await),
        issued,
        "a refused key issued a token"
    );
    let log = shim.log();
    for key in [KEY_A, KEY_B, KEY_B_NEW] {
        assert!(!log.contains(key), "{log}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keys_that_do_not_say_their_database_are_refused_at_start() {
    let dir = scratch_dir("http-keys-refused");
    let (serve_a, serve_b) = (
        format!("a=postgres://127.0.0.1:{REFUSED}/a"),
        format!("b=postgres://127.0.0.1:{REFUSED}/b"),
    );
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut all_env = vec![("NILE_RESET_SECRET", SECRET)];
        all_env.extend_from_slice(env);
        let (status, output) = run_to_exit("serve", &all, &all_env);
        assert!(!status.success(), "it started:\n{output}");
        for key in [KEY_A, KEY_B] {
            assert!(!output.contains(key), "{output}");
        }
        output
    };
    let two_databases = ["--database", &serve_a, "--database", &serve_b];

    // A bare key (0.2.0's form) with two databases: which one it is for is unknown.
    let file = keys_file(&dir, &format!("# keys\na {KEY_A}\n{KEY_B}\n"));
    let output = run(
        &[&two_databases[..], &["--api-keys-file", &file]].concat(),
        &[],
    );
    let expected = format!("line 3 of {file}: a key without a database is accepted only");
    assert!(output.contains(&expected), "{output}");

    // The same through --dsn-template, where one tenant's key would open every tenant.
    let template = format!("postgres://127.0.0.1:{REFUSED}/{{database}}");
    let output = run(
        &["--dsn-template", &template, "--allow-database", "a,b"],
        &[("NILE_RESET_API_KEYS", KEY_A)],
    );
    assert!(
        output.contains("entry 1 of NILE_RESET_API_KEYS: a key without a database"),
        "{output}"
    );

    // A database that is not served.
    let file = keys_file(&dir, &format!("a {KEY_A}\nc {KEY_B}\n"));
    let output = run(
        &[&two_databases[..], &["--api-keys-file", &file]].concat(),
        &[],
    );
    let expected = format!("line 2 of {file} names the database \"c\", which is not served");
    assert!(output.contains(&expected), "{output}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_bare_key_still_means_the_one_database_served() {
    let dir = scratch_dir("http-keys-bare");
    let file = keys_file(&dir, &format!("# 0.2.0's form\n{KEY_A}\n"));
    let f = Fixture::start(
        "http_keys_bare",
        &["--api-keys-file", &file],
        &[("NILE_RESET_API_KEYS", "")],
    )
    .await;
    let response = f
        .http
        .post(format!("{}?json=true", f.api(RESET)))
        .bearer_auth(KEY_A)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    std::fs::remove_dir_all(&dir).unwrap();
}
