//! PostgreSQL clusters started with scripts/cluster.sh, and databases with the extension.

use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tokio_postgres::{Client, NoTls};

use super::alone::{self, Running};
use super::{ports, project_root, scratch_dir};

/// A cluster in `<dir>/pgdata`; stopped when dropped (the shared one when the process exits).
pub struct Cluster {
    datadir: PathBuf,
    pub port: u16,
    /// None for the shared cluster, which idles between the tests that use it.
    _running: Option<Running>,
}

/// The cluster the tests share: started by the first test that needs it and stopped when the
/// test process exits. (Stopping it whenever no test happens to hold it would restart it
/// between tests, since only as many tests run at once as there are cores.)
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
    /// Starts a new cluster in `dir`/pgdata, on a port of its own.
    pub fn start(dir: &Path) -> Cluster {
        Cluster::launch(dir, Some(alone::running()))
    }

    /// The cluster shared by the tests that neither stop it nor change its settings, in
    /// target/it/shared.
    pub fn shared() -> &'static Cluster {
        SHARED.get_or_init(|| {
            // Counted while initdb runs only.
            let starting = alone::running();
            let cluster = Cluster::launch(&scratch_dir("shared"), None);
            drop(starting);
            // SAFETY: registers a plain function with no arguments, as atexit expects.
            let registered = unsafe { atexit(stop_shared_cluster) };
            assert_eq!(
                registered, 0,
                "atexit failed: the shared cluster would outlive the tests"
            );
            cluster
        })
    }

    pub fn stop(&self) {
        self.script("stop");
    }

    pub fn restart(&self) {
        self.script("start");
    }

    fn launch(dir: &Path, running: Option<Running>) -> Cluster {
        let cluster = Cluster {
            datadir: dir.join("pgdata"),
            port: ports::free(),
            _running: running,
        };
        cluster.script("start");
        cluster
    }

    fn script(&self, action: &str) {
        cluster_script(action, &self.datadir, self.port);
    }

    /// Makes `role` authenticate with its password (SCRAM) over TCP; other roles stay trusted.
    pub async fn require_password(&self, role: &str) {
        let hba = self.datadir.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).unwrap();
        // The first matching line wins.
        std::fs::write(
            &hba,
            format!("host all {role} 127.0.0.1/32 scram-sha-256\n{rules}"),
        )
        .unwrap();
        self.connect("postgres")
            .await
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .unwrap();
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// `database` through the cluster's Unix-domain socket (it lives in the data folder): the
    /// directory as the URL's percent-encoded host, as libpq reads it.
    pub fn socket_url(&self, database: &str) -> String {
        let directory = self.datadir.to_str().unwrap().replace('/', "%2F");
        format!("postgres://postgres@{directory}:{}/{database}", self.port)
    }

    pub async fn connect(&self, database: &str) -> Client {
        connect(&self.url(database)).await
    }

    /// A fresh database with the extension installed and pointed at Nile's user tables
    /// (`users.users`, `auth.credentials`), and a superuser client to it.
    pub async fn database(&self, name: &str) -> Client {
        let client = self.empty_database(name).await;
        client
            .batch_execute("CREATE EXTENSION nile_reset CASCADE")
            .await
            .expect("CREATE EXTENSION nile_reset failed: is the extension installed (cargo pgrx install)?");
        client
            .batch_execute("SELECT auth.use_nile_users()")
            .await
            .expect("auth.use_nile_users()");
        client
    }

    /// A fresh database without the extension.
    pub async fn empty_database(&self, name: &str) -> Client {
        let admin = self.connect("postgres").await;
        // One statement at a time: DROP/CREATE DATABASE refuse to run in a transaction block.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.batch_execute(&statement).await.unwrap();
        }
        self.connect(name).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Never panic in drop (a failing test is already unwinding).
        let _ = Command::new("bash")
            .arg(project_root().join("scripts/cluster.sh"))
            .arg("stop")
            .arg(&self.datadir)
            .arg(self.port.to_string())
            .output();
    }
}

/// Replaces every `auth.<name>` function of the extension with `definition` (a whole CREATE
/// FUNCTION statement), in a throwaway database: how tests fake an extension that answers what
/// this binary does not know.
pub async fn replace_function(db: &Client, name: &str, definition: &str) {
    db.batch_execute(&format!(
        "DO $do$
         DECLARE f regprocedure;
         BEGIN
             FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                      WHERE p.pronamespace = 'auth'::regnamespace AND p.proname = '{name}'
             LOOP
                 EXECUTE format('ALTER EXTENSION nile_reset DROP FUNCTION %s', f);
                 EXECUTE format('DROP FUNCTION %s', f);
             END LOOP;
         END
         $do$;
         {definition}"
    ))
    .await
    .unwrap_or_else(|e| panic!("cannot replace auth.{name}: {e}"));
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// Stops a cluster an interrupted run left running in `dir`/pgdata, if any.
pub fn stop_leftover(dir: &Path) {
    let datadir = dir.join("pgdata");
    if datadir.join("postmaster.pid").exists() {
        cluster_script("stop", &datadir, 0);
    }
}

fn cluster_script(action: &str, datadir: &Path, port: u16) {
    let output = Command::new("bash")
        .arg(project_root().join("scripts/cluster.sh"))
        .arg(action)
        .arg(datadir)
        .arg(port.to_string())
        .output()
        .expect("run scripts/cluster.sh");
    assert!(
        output.status.success(),
        "scripts/cluster.sh {action} {} failed: {}{}",
        datadir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
