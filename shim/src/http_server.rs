//! The accept loop of every HTTP server here (serve's API, both subcommands' admin server):
//! what the server itself guards, before any request reaches a handler.
//!
//! - A connection cap (`--max-connections`): past it, new connections wait in the kernel's
//!   accept queue until one closes, so a flood of idle sockets cannot exhaust memory or file
//!   descriptors.
//! - A per-client cap (`--max-connections-per-client`): a connection from a client that already
//!   has that many open is closed as soon as it is accepted, so one client cannot take every
//!   slot of the connection cap. The client is the TCP peer's address (see [`client_of`]): no
//!   request has been read yet, so a proxy's client-address header cannot count here, and
//!   behind a proxy every connection is the proxy's.
//! - A header-read timeout (`--header-read-timeout`): a request's whole head must arrive within
//!   it, counted from its first byte (on a kept-alive connection, from the end of the previous
//!   answer). A client dripping one header line at a time is cut off when it runs out.
//! - An idle timeout (`--idle-timeout`): a connection on which nothing was read or written for
//!   that long is closed, whatever it is in the middle of (a new connection that says nothing,
//!   a stalled body, a reader that does not read its answer).
//!
//! Each request gets the peer address as [`ConnectInfo`].

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// The connection-level bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Most connections open at once from one client; 0: no such cap.
    pub max_connections_per_client: usize,
    /// IPv6 peers count as one client per network of this many leading bits.
    pub ipv6_prefix_length: u8,
}

/// The defaults of serve's --header-read-timeout, --idle-timeout, --max-connections,
/// --max-connections-per-client and --ipv6-prefix-length, which also bound `send`'s admin
/// server.
impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_client: 64,
            ipv6_prefix_length: 64,
        }
    }
}

/// The client `address` belongs to, as the per-client limits count them: an IPv4 address is
/// a client of its own; an IPv6 address is its network of `ipv6_prefix_length` leading bits,
/// since one subscriber usually gets a whole /64 and can use any address in it. IPv4 peers of
/// a dual-stack listener arrive IPv4-mapped (`::ffff:a.b.c.d`) and count as IPv4.
pub fn client_of(address: IpAddr, ipv6_prefix_length: u8) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let host_bits = 128 - u32::from(ipv6_prefix_length.min(128));
            let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask))
        }
        v4 => v4,
    }
}

/// Serves `app` on `listener` until `stop` is cancelled, then waits for open connections to
/// finish their requests (idle ones are closed at once).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client =
        (limits.max_connections_per_client > 0).then(|| Arc::new(OpenPerClient::new(limits)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();

    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("connection slots closed")?,
            () = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: wait a little instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let client_slot = match &per_client {
            Some(open) => match open.claim(peer.ip()) {
                Some(client_slot) => Some(client_slot),
                None => {
                    // Dropping the stream closes it, and frees the global slot with it.
                    tracing::debug!("closed a connection: its client has the most allowed open");
                    continue;
                }
            },
            None => None,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let (io, activity) = WatchedStream::new(stream);
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        let idle_timeout = limits.idle_timeout;
        tokio::spawn(async move {
            let _slots = (slot, client_slot);
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                () = activity.idle_for(idle_timeout) => {
                    tracing::debug!("closed a connection idle for {idle_timeout:?}");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// How many connections each client has open, for --max-connections-per-client.
struct OpenPerClient {
    cap: usize,
    ipv6_prefix_length: u8,
    // Only clients with a connection open have an entry: at most --max-connections of them.
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl OpenPerClient {
    fn new(limits: ConnectionLimits) -> OpenPerClient {
        OpenPerClient {
            cap: limits.max_connections_per_client,
            ipv6_prefix_length: limits.ipv6_prefix_length,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// One more open connection for `peer`'s client, held until the slot drops; None when the
    /// client already has the most allowed.
    fn claim(self: &Arc<Self>, peer: IpAddr) -> Option<ClientSlot> {
        let client = client_of(peer, self.ipv6_prefix_length);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(client).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            owner: self.clone(),
            client,
        })
    }
}

/// One open connection of a client, given back when the connection ends.
struct ClientSlot {
    owner: Arc<OpenPerClient>,
    client: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// When the connection last read or wrote a byte, shared between the stream and its watcher.
#[derive(Clone)]
struct Activity {
    start: Instant,
    last_millis: Arc<AtomicU64>,
}

impl Activity {
    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_millis.store(now, Ordering::Relaxed);
    }

    /// Completes once nothing happened for `idle`.
    async fn idle_for(self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.last_millis.load(Ordering::Relaxed));
            let deadline = self.start + last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A TCP stream that records its activity.
struct WatchedStream {
    inner: TcpStream,
    activity: Activity,
}

impl WatchedStream {
    fn new(inner: TcpStream) -> (WatchedStream, Activity) {
        let activity = Activity {
            start: Instant::now(),
            last_millis: Arc::new(AtomicU64::new(0)),
        };
        let stream = WatchedStream {
            inner,
            activity: activity.clone(),
        };
        (stream, activity)
    }
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_networks_and_ipv4_clients_addresses() {
        let client = |text: &str, prefix: u8| client_of(address(text), prefix);
        assert_eq!(
            client("2001:db8:1:2:aaaa::1", 64),
            address("2001:db8:1:2::")
        );
        assert_eq!(
            client("2001:db8:1:2::9", 64),
            client("2001:db8:1:2:ffff::1", 64)
        );
        assert_ne!(client("2001:db8:1:2::9", 64), client("2001:db8:1:3::9", 64));
        assert_eq!(client("2001:db8:1:2::9", 48), client("2001:db8:1:3::9", 48));
        assert_eq!(client("2001:db8::9", 128), address("2001:db8::9"));
        assert_eq!(client("2001:db8::9", 1), address("::"));
        assert_eq!(client("192.0.2.1", 64), address("192.0.2.1"));
        assert_ne!(client("192.0.2.1", 1), client("192.0.2.2", 1));
        // A dual-stack listener's IPv4 peer: its own client, not one of ::ffff:0:0/96.
        assert_eq!(client("::ffff:192.0.2.1", 64), address("192.0.2.1"));
        assert_ne!(
            client("::ffff:192.0.2.1", 64),
            client("::ffff:192.0.2.2", 64)
        );
    }

    #[test]
    fn a_client_holds_at_most_the_cap_until_its_connections_end() {
        let open = Arc::new(OpenPerClient::new(ConnectionLimits {
            max_connections_per_client: 2,
            ..ConnectionLimits::default()
        }));
        let first = open.claim(address("192.0.2.1")).unwrap();
        let _second = open.claim(address("192.0.2.1")).unwrap();
        assert!(open.claim(address("192.0.2.1")).is_none());
        assert!(open.claim(address("192.0.2.2")).is_some());
        // Another address of the same /64 is the same client.
        let _v6 = open.claim(address("2001:db8::1")).unwrap();
        let _v6_again = open.claim(address("2001:db8::2")).unwrap();
        assert!(open.claim(address("2001:db8::ffff")).is_none());
        drop(first);
        let _third = open.claim(address("192.0.2.1")).unwrap();
        assert!(open.claim(address("192.0.2.1")).is_none());
    }

    #[test]
    fn clients_leave_no_entry_once_their_connections_end() {
        let open = Arc::new(OpenPerClient::new(ConnectionLimits::default()));
        let slots: Vec<_> = (0..10)
            .map(|i| open.claim(address(&format!("192.0.2.{i}"))).unwrap())
            .collect();
        assert_eq!(open.open.lock().unwrap().len(), 10);
        drop(slots);
        assert!(open.open.lock().unwrap().is_empty());
    }
}
