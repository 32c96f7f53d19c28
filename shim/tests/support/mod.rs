//! Real processes for the sender's tests: a PostgreSQL cluster with the
//! installed nile_reset extension, the SMTP sink of tests/smtp_sink.py, and
//! the `nile-reset send` binary. Each is stopped when its guard drops, also
//! when a test fails.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio_postgres::{Client, NoTls};

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh folder for one test's files, under target/it.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = project_root().join("target/it").join(test);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls `check` every 50 ms until it returns Some, or panics after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Cluster {
    datadir: PathBuf,
    pub port: u16,
}

impl Cluster {
    /// Starts a new cluster in `dir`/pgdata (scripts/cluster.sh).
    pub fn start(dir: &Path, port: u16) -> Self {
        let cluster = Self {
            datadir: dir.join("pgdata"),
            port,
        };
        cluster.script("start");
        cluster
    }

    fn script(&self, action: &str) {
        run(Command::new("bash")
            .arg(project_root().join("scripts/cluster.sh"))
            .arg(action)
            .arg(&self.datadir)
            .arg(self.port.to_string()));
    }

    pub fn stop(&self) {
        self.script("stop");
    }

    pub fn restart(&self) {
        self.script("start");
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub async fn connect(&self, database: &str) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.url(database), NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {database}: {e}"));
        tokio::spawn(connection);
        client
    }

    /// A database with the extension installed, and a client to it.
    pub async fn database(&self, name: &str) -> Client {
        let admin = self.connect("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let client = self.connect(name).await;
        client
            .batch_execute("CREATE EXTENSION nile_reset CASCADE")
            .await
            .expect("CREATE EXTENSION nile_reset failed: is the extension installed (cargo pgrx install)?");
        client
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(project_root().join("scripts/cluster.sh"))
            .args([
                "stop".as_ref(),
                self.datadir.as_os_str(),
                self.port.to_string().as_ref(),
            ])
            .output();
    }
}

/// One message the SMTP sink accepted.
#[derive(Debug, Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The raw message, as sent.
    pub data: String,
    /// Parsed header fields in order, RFC 2047 decoded.
    pub headers: Vec<(String, String)>,
    pub subject: String,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The raw header section, as sent.
    pub fn raw_head(&self) -> &str {
        self.data.split("\r\n\r\n").next().unwrap()
    }
}

pub struct Sink {
    child: Child,
    pub port: u16,
    out: PathBuf,
}

impl Sink {
    /// Starts tests/smtp_sink.py with `args`, on `port` (0: any free port).
    pub fn start(out: &Path, port: u16, args: &[&str]) -> Self {
        let mut child = Command::new(venv_python())
            .arg(project_root().join("tests/smtp_sink.py"))
            .arg("--out")
            .arg(out)
            .args(["--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the SMTP sink (bash scripts/setup.sh makes the venv): {e}")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink did not start (printed {line:?})"));
        Self {
            child,
            port,
            out: out.to_path_buf(),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        received_in(&self.out)
    }

    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The messages a sink wrote to `out` (also after it stopped).
pub fn received_in(out: &Path) -> Vec<Received> {
    let Ok(entries) = fs::read_dir(out) else {
        return Vec::new();
    };
    let mut numbered: Vec<(u64, PathBuf)> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            (
                path.file_stem().unwrap().to_str().unwrap().parse().unwrap(),
                path,
            )
        })
        .collect();
    numbered.sort();
    numbered
        .into_iter()
        .map(|(_, path)| serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap())
        .collect()
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("NILE_RESET_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
            cache.join("nile_reset/venv")
        });
    venv.join("bin/python")
}

/// A running `nile-reset send`, its output going to a log file.
pub struct Sender {
    child: Child,
    pub log: PathBuf,
}

impl Sender {
    /// Starts `nile-reset send` with `args`, the database URL and a short
    /// shutdown grace; `env` adds variables (passwords never go in args).
    pub fn start(log: PathBuf, database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let output = fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_nile-reset"))
            .arg("send")
            .args(args)
            .env_remove("NILE_RESET_SMTP_PASSWORD")
            .env("NILE_RESET_DATABASE_URL", database_url)
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often the log says `text` so far.
    pub fn log_count(&self, text: &str) -> usize {
        self.log_text().matches(text).count()
    }

    pub async fn wait_for_log(&self, text: &str, times: usize, timeout: Duration) {
        wait_for(
            timeout,
            &format!("{times}x {text:?} in {}", self.log.display()),
            || async { (self.log_count(text) >= times).then_some(()) },
        )
        .await;
    }

    /// Waits until `text` shows in the log after the `nth` occurrence of `anchor`.
    pub async fn wait_for_log_after(
        &self,
        anchor: &str,
        nth: usize,
        text: &str,
        timeout: Duration,
    ) {
        let what = format!("{text:?} after {nth}x {anchor:?} in {}", self.log.display());
        wait_for(timeout, &what, || async {
            let log = self.log_text();
            let (at, _) = log.match_indices(anchor).nth(nth - 1)?;
            log[at..].contains(text).then_some(())
        })
        .await;
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn terminate(&self) {
        run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
    }

    /// The exit status, or None if still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Queues `count` emails directly, recipients `{prefix}{n}@example.com` for
/// n in 1..=count, each body naming its recipient.
pub async fn queue_emails(db: &Client, prefix: &str, count: i32) {
    db.execute(
        "INSERT INTO auth.email_outbox (kind, recipient, sender, subject, body)
         SELECT 'password_reset', $1::text || n || '@example.com', 'Support <support@example.com>',
                'Reset your password', 'Hello ' || $1::text || n || E',\\nopen http://localhost:3000/reset?token=t' || n || E'\\n'
         FROM generate_series(1, $2::integer) AS n",
        &[&prefix, &count],
    )
    .await
    .unwrap();
}

/// Queues one email with the given fields, returning its outbox id.
pub async fn queue_email(
    db: &Client,
    recipient: &str,
    sender: &str,
    subject: &str,
    body: &str,
) -> i64 {
    db.query_one(
        "INSERT INTO auth.email_outbox (kind, recipient, sender, subject, body)
         VALUES ('password_reset', $1, $2, $3, $4) RETURNING id",
        &[&recipient, &sender, &subject, &body],
    )
    .await
    .unwrap()
    .get(0)
}

pub async fn count(db: &Client, condition: &str) -> i64 {
    db.query_one(
        &format!("SELECT count(*) FROM auth.email_outbox WHERE {condition}"),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// Waits until every outbox row is sent or dead.
pub async fn wait_drained(db: &Client, timeout: Duration) {
    wait_for(timeout, "the outbox to drain", || async {
        (count(db, "sent_at IS NULL AND dead_at IS NULL").await == 0).then_some(())
    })
    .await;
}
