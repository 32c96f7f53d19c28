//! Harness for the HTTP tests: real PostgreSQL clusters (scripts/cluster.sh), one database per
//! test with the extension installed, and the real `nile-reset serve` binary on a free port.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

/// The cookie secret every test shim is started with (tests recompute signatures with it).
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
/// The API key every test shim accepts.
pub const API_KEY: &str = "test-api-key-0123456789abcdef";
/// The origin trusted in every test database.
pub const APP_ORIGIN: &str = "http://localhost:3000";

/// Port of the cluster the tests share; 28841 is the outage test's own, 28842 schemathesis's.
pub const SHARED_PORT: u16 = 28840;
pub const OUTAGE_PORT: u16 = 28841;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shim/ has a parent")
        .to_owned()
}

/// A PostgreSQL cluster started with scripts/cluster.sh.
pub struct Cluster {
    datadir: PathBuf,
    port: u16,
}

/// The cluster the tests of one binary share: started by the first test that needs it and
/// stopped when the test process exits. (Stopping it whenever no test happens to hold it would
/// restart it between tests, since only as many tests run at once as there are cores.)
static SHARED: OnceLock<Cluster> = OnceLock::new();

extern "C" {
    /// C's atexit(3): libtest ends with exit(), which runs these handlers, pass or fail.
    fn atexit(callback: extern "C" fn()) -> c_int;
}

extern "C" fn stop_shared_cluster() {
    if let Some(cluster) = SHARED.get() {
        // A panic must not unwind out of an extern "C" function (that aborts the process).
        if std::panic::catch_unwind(|| cluster.stop()).is_err() {
            eprintln!("could not stop the shared test cluster");
        }
    }
}

impl Cluster {
    pub fn shared() -> &'static Cluster {
        SHARED.get_or_init(|| {
            let cluster = Cluster::start("http-shared", SHARED_PORT);
            // SAFETY: registers a plain function with no arguments, as atexit expects.
            let registered = unsafe { atexit(stop_shared_cluster) };
            assert_eq!(
                registered, 0,
                "atexit failed: the shared cluster would outlive the tests"
            );
            cluster
        })
    }

    /// A cluster of its own, for a test that stops and starts it; stopped when dropped.
    pub fn dedicated(name: &str, port: u16) -> DedicatedCluster {
        DedicatedCluster(Cluster::start(name, port))
    }

    fn start(name: &str, port: u16) -> Cluster {
        let cluster = Cluster {
            datadir: project_root().join("target/it").join(name),
            port,
        };
        cluster.run("start");
        cluster
    }

    pub fn stop(&self) {
        self.run("stop");
    }

    pub fn restart(&self) {
        self.run("start");
    }

    fn run(&self, action: &str) {
        let status = Command::new("bash")
            .arg(project_root().join("scripts/cluster.sh"))
            .arg(action)
            .arg(&self.datadir)
            .arg(self.port.to_string())
            .status()
            .expect("run scripts/cluster.sh");
        assert!(
            status.success(),
            "scripts/cluster.sh {action} {} failed",
            self.datadir.display()
        );
    }

    pub fn dsn(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A fresh database with the extension, a trusted origin and Alice (alice@example.com,
    /// stored mixed-case) as its only user; returns a superuser connection to it.
    pub async fn create_database(&self, name: &str) -> Client {
        let admin = connect(&self.dsn("postgres")).await;
        // One statement at a time: DROP/CREATE DATABASE refuse to run in a transaction block.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .expect("create the test database");
        }
        let client = connect(&self.dsn(name)).await;
        client
            .batch_execute(&format!(
                "CREATE EXTENSION nile_reset CASCADE;
                 -- For crypt() in assertions on the stored bcrypt hash.
                 CREATE EXTENSION IF NOT EXISTS pgcrypto;
                 SELECT auth.add_trusted_origin('{APP_ORIGIN}');
                 INSERT INTO users.users (email, name) VALUES ('Alice@Example.com', 'Alice');"
            ))
            .await
            .expect("install nile_reset (is the extension installed into PostgreSQL 15?)");
        client
    }
}

/// A cluster owned by one test, stopped when the test ends (pass or fail).
pub struct DedicatedCluster(Cluster);

impl std::ops::Deref for DedicatedCluster {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        &self.0
    }
}

impl Drop for DedicatedCluster {
    fn drop(&mut self) {
        self.0.stop();
    }
}

pub async fn connect(dsn: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(connection);
    client
}

/// The `nile-reset serve` binary, running on a free port; killed when dropped.
pub struct Shim {
    child: Child,
    pub base_url: String,
    log: PathBuf,
}

impl Shim {
    /// Starts the server with the test secret and API key in its environment (and nothing else
    /// from ours), plus `args`.
    pub fn start(name: &str, args: &[&str]) -> Shim {
        Shim::start_with_env(name, args, &[])
    }

    pub fn start_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Shim {
        let log = project_root().join("target/it").join(format!("{name}.log"));
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_nile-reset"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_clear()
            .env("NILE_RESET_SECRET", SECRET)
            .env("NILE_RESET_API_KEYS", API_KEY)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start nile-reset serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(address) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!(
                "nile-reset serve did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Shim {
            child,
            base_url: address.to_owned(),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "nile-reset serve did not exit within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary to completion (for startup failures); returns its status and stderr.
pub fn run_serve(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_nile-reset"))
        .arg("serve")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run nile-reset serve");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
