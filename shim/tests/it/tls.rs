//! TLS to a real PostgreSQL started with `ssl = on` and a CA made here with openssl: libpq's
//! sslmode meanings, through the connection settings both subcommands use.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nile_reset_shim::database;

use crate::support::{scratch_dir, Cluster};

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, a server certificate from it for `localhost` only, and a second, unrelated CA.
fn make_certificates(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// Whether a pool built from `dsn` hands out a working connection; the error otherwise.
async fn connect(dsn: &str) -> Result<(), String> {
    let settings = database::connection_config(dsn, "tls test").map_err(|e| format!("{e:#}"))?;
    let pool = database::pool(settings, 1, Duration::from_secs(5)).map_err(|e| format!("{e:#}"))?;
    let client = pool
        .get()
        .await
        .map_err(|e| database::describe_pool_error(&e))?;
    client
        .query_one("SELECT 1", &[])
        .await
        .map_err(|e| database::describe(&e))?;
    Ok(())
}

#[tokio::test]
async fn sslmodes_mean_what_they_mean_to_libpq() {
    let dir = scratch_dir("tls");
    make_certificates(&dir);
    let cluster = Cluster::start(&dir);
    let datadir = dir.join("pgdata");
    // The server reads its key as the cluster's OS user (postgres under root, the user itself
    // otherwise: whoever owns the data folder), and only from a private file.
    let cluster_user = std::fs::metadata(&datadir).unwrap().uid();
    for file in ["server.pem", "server.key"] {
        std::fs::copy(dir.join(file), datadir.join(file)).unwrap();
        std::os::unix::fs::chown(datadir.join(file), Some(cluster_user), None).unwrap();
    }
    std::fs::set_permissions(
        datadir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let admin = cluster.connect("postgres").await;
    for statement in [
        "ALTER SYSTEM SET ssl = on",
        "ALTER SYSTEM SET ssl_cert_file = 'server.pem'",
        "ALTER SYSTEM SET ssl_key_file = 'server.key'",
        "SELECT pg_reload_conf()",
    ] {
        admin.batch_execute(statement).await.unwrap();
    }
    // Reloading turns TLS on for new connections.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ca = dir.join("ca.pem");
    let other_ca = dir.join("other-ca.pem");
    let url = |host: &str, query: &str| {
        format!(
            "postgres://postgres@{host}:{}/postgres?{query}",
            cluster.port
        )
    };
    let ca = ca.to_str().unwrap();
    let other_ca = other_ca.to_str().unwrap();

    // verify-full: the CA and the name check out.
    connect(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    // Another CA: refused.
    let error = connect(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={other_ca}"),
    ))
    .await
    .unwrap_err();
    assert!(error.contains("certificate"), "{error}");
    // The certificate is for localhost, not 127.0.0.1: verify-full refuses, verify-ca accepts.
    let error = connect(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .unwrap_err();
    assert!(error.contains("certificate"), "{error}");
    connect(&url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    assert!(connect(&url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={other_ca}")
    ))
    .await
    .is_err());
    // require: encrypted, whatever the certificate...
    connect(&url("127.0.0.1", "sslmode=require")).await.unwrap();
    // ...unless sslrootcert names a file: then, as with libpq, require and
    // prefer check the certificate against it as verify-ca does.
    connect(&url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    for mode in ["require", "prefer"] {
        assert!(
            connect(&url(
                "127.0.0.1",
                &format!("sslmode={mode}&sslrootcert={other_ca}")
            ))
            .await
            .is_err(),
            "sslmode={mode} with another CA's certificate connected"
        );
    }
    // verify-* without a CA is a configuration error, said before connecting.
    let error = connect(&url("localhost", "sslmode=verify-full"))
        .await
        .unwrap_err();
    assert!(error.contains("sslrootcert"), "{error}");

    // require against a server without TLS: a clear refusal.
    let plain_dir = scratch_dir("tls-plain");
    let plain = Cluster::start(&plain_dir);
    let error = connect(&format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=require",
        plain.port
    ))
    .await
    .unwrap_err();
    assert!(error.contains("server does not support TLS"), "{error}");
    // prefer falls back to plain text there.
    connect(&format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=prefer",
        plain.port
    ))
    .await
    .unwrap();
}
