//! The real `nile-reset` binary, started one way for both subcommands: a clean environment
//! (nothing leaks in from the developer's), debug logging, stdout and stderr into a log file.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::alone::{self, Running};
use super::{project_root, wait_for};

/// The cookie secret every test server is started with (tests recompute signatures with it).
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
/// The API key every test server accepts, for every database it serves.
pub const API_KEY: &str = "test-api-key-0123456789abcdef";

fn command(subcommand: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nile-reset"));
    command
        .arg(subcommand)
        .args(args)
        .env_clear()
        // Debug logging everywhere: secrets must stay out of logs at any level.
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

/// Runs `nile-reset <subcommand>` to completion (for start-up failures): its status and its
/// whole output. Panics if it is still running after 30 s: it was expected to exit.
pub fn run_to_exit(subcommand: &str, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let log = project_root().join("target/it/runs").join(format!(
        "{subcommand}-{}-{}.log",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut process = Process::start(subcommand, log, args, env);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            return (status, process.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "nile-reset {subcommand} kept running instead of exiting:\n{}",
            process.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `nile-reset`, its output going to a log file; killed when dropped.
pub struct Process {
    child: Child,
    pub log: PathBuf,
    _running: Running,
}

impl Process {
    pub fn start(subcommand: &str, log: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Process {
        let running = alone::running();
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        fs::File::create(&log).unwrap();
        // O_APPEND on both streams, so that neither overwrites the other's lines.
        let append = || fs::OpenOptions::new().append(true).open(&log).unwrap();
        let child = command(subcommand, args, env)
            .stdout(append())
            .stderr(append())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nile-reset {subcommand}: {e}"));
        Process {
            child,
            log,
            _running: running,
        }
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

    /// Sends SIGTERM (without waiting).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
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

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nile-reset send`.
pub type Sender = Process;

impl Process {
    /// Starts `nile-reset send` with `args` and the database URL; `env` adds variables
    /// (passwords never go in args).
    pub fn send(log: PathBuf, database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Sender {
        let mut all = vec![("NILE_RESET_DATABASE_URL", database_url)];
        all.extend_from_slice(env);
        Process::start("send", log, args, &all)
    }
}

/// `nile-reset serve` on a free port (and its admin server on another), with the test secret
/// and API key.
pub struct Shim {
    pub process: Process,
    pub base_url: String,
    /// Where /healthz and /metrics are served (--admin-listen).
    pub admin_url: String,
}

impl Shim {
    pub fn start(name: &str, args: &[&str]) -> Shim {
        Shim::start_with_env(name, args, &[])
    }

    /// `env` comes on top of the test secret and API key (and may blank them).
    pub fn start_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Shim {
        let log = project_root().join("target/it").join(format!("{name}.log"));
        let mut all_args = vec!["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
        all_args.extend_from_slice(args);
        let api_keys = api_keys_for(args);
        let mut all_env = vec![
            ("NILE_RESET_SECRET", SECRET),
            ("NILE_RESET_API_KEYS", api_keys.as_str()),
        ];
        all_env.extend_from_slice(env);
        let mut process = Process::start("serve", log, &all_args, &all_env);
        // The stdout lines, printed once the servers listen.
        let deadline = Instant::now() + Duration::from_secs(30);
        let (base_url, admin_url) = loop {
            let log = process.log_text();
            let url_after = |prefix: &str| {
                log.lines()
                    .find_map(|line| line.strip_prefix(prefix))
                    .map(|url| url.trim().to_owned())
            };
            if let (Some(public), Some(admin)) =
                (url_after("listening on "), url_after("admin listening on "))
            {
                break (public, admin);
            }
            let exited = process.child.try_wait().unwrap().is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "nile-reset serve did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Shim {
            process,
            base_url,
            admin_url,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// URL of `path` on the admin server.
    pub fn admin(&self, path: &str) -> String {
        format!("{}{path}", self.admin_url)
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.process.log_text()
    }
}

/// NILE_RESET_API_KEYS giving [`API_KEY`] to every database `args` serve: the bare key (0.2.0's
/// form) for one, since serve refuses a key without a database when it serves several.
fn api_keys_for(args: &[&str]) -> String {
    let mut names = Vec::new();
    for pair in args.windows(2) {
        match pair[0] {
            "--database" => names.extend(pair[1].split_once('=').map(|(name, _)| name)),
            "--allow-database" => names.extend(pair[1].split(',')),
            _ => {}
        }
    }
    if names.len() < 2 {
        return API_KEY.to_owned();
    }
    names
        .iter()
        .map(|name| format!("{name} {API_KEY}"))
        .collect::<Vec<_>>()
        .join(",")
}
