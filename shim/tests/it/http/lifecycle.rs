//! Starting and stopping `nile-reset serve`: the configurations it refuses, the databases it
//! refuses to serve, secrets from files and databases from a DSN template, and SIGTERM.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::alice_request;
use crate::support::fixture::{app_database, client, cookie_pair, text, APP_ORIGIN, RESET};
use crate::support::ports::REFUSED;
use crate::support::process::API_KEY;
use crate::support::{csrf_signature_with, run_to_exit, Cluster, Fixture, Shim};

#[test]
fn startup_refuses_unsafe_configurations() {
    let run_serve = |args: &[&str], env: &[(&str, &str)]| run_to_exit("serve", args, env);
    let unreachable = format!("app=postgres://postgres@127.0.0.1:{REFUSED}/app");
    let database = ("NILE_RESET_DATABASES", unreachable.as_str());

    let (status, stderr) = run_serve(&["--production"], &[database]);
    assert!(!status.success());
    assert!(
        stderr.contains("--production needs a cookie secret"),
        "{stderr}"
    );

    let (status, stderr) = run_serve(&[], &[database, ("NILE_RESET_SECRET", "too-short")]);
    assert!(!status.success());
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    assert!(!stderr.contains("too-short"), "{stderr}");

    let (status, stderr) = run_serve(&[], &[database, ("NILE_RESET_API_KEYS", "short")]);
    assert!(!status.success());
    assert!(stderr.contains("API keys must be at least"), "{stderr}");

    let (status, stderr) = run_serve(&[], &[]);
    assert!(!status.success());
    assert!(stderr.contains("no database configured"), "{stderr}");

    let (status, stderr) = run_serve(
        &[
            "--dsn-template",
            "postgres://h/db",
            "--allow-database",
            "app",
        ],
        &[],
    );
    assert!(!status.success());
    assert!(stderr.contains("{database}"), "{stderr}");

    let (status, stderr) = run_serve(
        &["--database", "app=postgres://u:hunter2@h:notaport/app"],
        &[],
    );
    assert!(!status.success());
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn serve_refuses_a_database_without_the_extension_or_of_another_version() {
    let cluster = Cluster::shared();
    let serve = |name: &str| {
        let database = format!("{name}={}", cluster.url(name));
        let (status, output) = run_to_exit("serve", &["--database", &database], &[]);
        assert!(!status.success(), "it started:\n{output}");
        output
    };
    cluster.empty_database("http_no_extension").await;
    let output = serve("http_no_extension");
    assert!(
        output.contains("the nile_reset extension is not installed"),
        "{output}"
    );
    assert!(output.contains("http_no_extension"), "{output}");

    let db = cluster.database("http_other_version").await;
    db.batch_execute("UPDATE pg_extension SET extversion = '0.0.9' WHERE extname = 'nile_reset'")
        .await
        .unwrap();
    let output = serve("http_other_version");
    let expected = format!(
        "the database has nile_reset 0.0.9, but this nile-reset is built for {}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(output.contains(&expected), "{output}");
}

#[tokio::test]
async fn dsn_template_and_secret_files() {
    let cluster = Cluster::shared();
    let name = "http_template";
    let db = app_database(cluster, name).await;
    let dir = std::env::temp_dir().join(format!("nile-reset-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file_secret = "file-secret-0123456789abcdef0123456789abcdef";
    std::fs::write(dir.join("secret"), format!("{file_secret}\n")).unwrap();
    let file_key = "file-api-key-0123456789abcdef";
    std::fs::write(
        dir.join("keys"),
        format!("# rotated monthly\n\n{file_key}\n"),
    )
    .unwrap();
    let template = cluster.url("{database}");
    let shim = Shim::start_with_env(
        name,
        &[
            "--dsn-template",
            &template,
            "--allow-database",
            name,
            "--secret-file",
            dir.join("secret").to_str().unwrap(),
            "--api-keys-file",
            dir.join("keys").to_str().unwrap(),
        ],
        // Empty values count as unset: only the files configure secrets here.
        &[("NILE_RESET_SECRET", ""), ("NILE_RESET_API_KEYS", "")],
    );
    let http = client();
    let api = |database: &str, route: &str| shim.url(&format!("/v2/databases/{database}{route}"));

    let response = http.get(api(name, "/auth/csrf")).send().await.unwrap();
    let cookie = cookie_pair(response.headers(), "nile.csrf-token").unwrap();
    let token: Value = response.json().await.unwrap();
    let token = token["csrfToken"].as_str().unwrap();
    let expected = csrf_signature_with(file_secret, name, token);
    assert_eq!(cookie, format!("nile.csrf-token={token}%7C{expected}"));
    let response = http
        .post(api(name, RESET))
        .header("cookie", &cookie)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = http
        .post(format!("{}?json=true", api(name, RESET)))
        .bearer_auth(file_key)
        .json(&json!({"email": "nobody@example.com", "callbackUrl": APP_ORIGIN, "redirectUrl": APP_ORIGIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = http
        .post(format!("{}?json=true", api(name, RESET)))
        .bearer_auth(API_KEY)
        .json(&alice_request())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "only the file's key is configured"
    );

    // Names outside the allow-list are not served, even when the database exists.
    let (status, message) = text(http.get(api("postgres", "/auth/csrf"))).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::NOT_FOUND, "Unknown database")
    );
    std::fs::remove_dir_all(&dir).unwrap();
    drop(db);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let f = Fixture::new("http_sigterm").await;
    assert_eq!(
        f.http
            .get(f.shim.admin("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let mut shim = f.shim;
    shim.process.terminate();
    let status = shim
        .process
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("nile-reset serve did not exit within 10 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(shim.log().contains("stopped"));
}
