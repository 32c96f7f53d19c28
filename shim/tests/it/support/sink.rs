//! The SMTP server of the sender's tests: tests/smtp_sink.py, one JSON file per message.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde::Deserialize;

use super::project_root;

/// One message the SMTP sink accepted.
#[derive(Debug, Deserialize)]
pub struct Received {
    pub rcpt_tos: Vec<String>,
    /// The raw message, as sent.
    pub data: String,
    /// Parsed header fields in order, RFC 2047 decoded.
    pub headers: Vec<(String, String)>,
    pub subject: String,
    /// The message's own content type (multipart/alternative, text/plain, ...).
    pub content_type: String,
    /// The text/plain content, decoded.
    pub body: String,
    /// The text/html part, decoded, when there is one.
    pub html: Option<String>,
    /// The content types of a multipart message's parts, in order.
    pub parts: Vec<String>,
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
