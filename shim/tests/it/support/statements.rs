//! A proxy in front of PostgreSQL that records the SQL of every statement its clients execute:
//! how a test counts a server's trips to the database. It reads the frontend's messages of the
//! wire protocol (v3) as they pass, so the connections must not use TLS. It runs on a thread
//! of its own, so a test may block its own (as `Shim::start` does while the server connects).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// SSLRequest and GSSENCRequest: start-up messages followed by another one.
const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

type Executed = Arc<Mutex<Vec<String>>>;

/// Passes every connection on to the cluster on `upstream`; dropped, it closes them all.
pub struct StatementLog {
    port: u16,
    executed: Executed,
    stop: Option<oneshot::Sender<()>>,
}

impl StatementLog {
    pub fn start(upstream: u16) -> StatementLog {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let executed = Executed::default();
        let log = executed.clone();
        let (stop, stopped) = oneshot::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let accepting = async {
                    while let Ok((client, _)) = listener.accept().await {
                        let log = log.clone();
                        tokio::spawn(async move {
                            if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await {
                                relay(client, server, log).await;
                            }
                        });
                    }
                };
                tokio::select! {
                    () = accepting => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime ends the relays, and so closes their connections.
        });
        StatementLog {
            port,
            executed,
            stop: Some(stop),
        }
    }

    /// `database` through the proxy, without TLS.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// The SQL of each statement executed since the last call, in order. A statement is
    /// recorded before it reaches PostgreSQL, so before its client can have an answer.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.executed.lock().unwrap())
    }
}

impl Drop for StatementLog {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn relay(client: TcpStream, server: TcpStream, log: Executed) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    let mut frontend = Frontend::default();
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from_client.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        frontend.read(&buffer[..read], &log);
        if to_server.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to_server.shutdown().await;
}

/// One connection's messages from the client: untyped start-up messages (length, body), then
/// typed ones (tag, length, body); the length counts itself.
#[derive(Default)]
struct Frontend {
    unread: Vec<u8>,
    started: bool,
    /// The SQL of the prepared statements, by name ("" for the unnamed one).
    prepared: HashMap<String, String>,
}

impl Frontend {
    fn read(&mut self, bytes: &[u8], log: &Mutex<Vec<String>>) {
        self.unread.extend_from_slice(bytes);
        loop {
            let tag = usize::from(self.started);
            let Some(length) = self.unread.get(tag..tag + 4) else {
                return;
            };
            let end = tag + u32::from_be_bytes(length.try_into().unwrap()) as usize;
            if self.unread.len() < end {
                return;
            }
            let message: Vec<u8> = self.unread.drain(..end).collect();
            if !self.started {
                let code = u32::from_be_bytes(message[4..8].try_into().unwrap());
                self.started = !ENCRYPTION_REQUESTS.contains(&code);
                continue;
            }
            // The strings a message starts with; what follows them is not read.
            let mut strings = message[5..]
                .split(|&byte| byte == 0)
                .map(|text| String::from_utf8_lossy(text).into_owned());
            match message[0] {
                // Parse: statement name, SQL.
                b'P' => {
                    let name = strings.next().unwrap();
                    let sql = strings.next().unwrap();
                    self.prepared.insert(name, sql);
                }
                // Bind: portal, statement name; one execution of that statement.
                b'B' => {
                    let name = strings.nth(1).unwrap();
                    let sql = self.prepared.get(&name).cloned().unwrap_or_default();
                    log.lock().unwrap().push(sql);
                }
                // Query: the simple protocol's SQL.
                b'Q' => log.lock().unwrap().push(strings.next().unwrap()),
                _ => {}
            }
        }
    }
}
