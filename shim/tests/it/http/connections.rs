//! Raw connections: header-read and idle timeouts, the connection cap and the per-client one.

use std::time::Duration;

use reqwest::{Client, StatusCode};

use crate::support::fixture::RESET;
use crate::support::{Fixture, Shim};

/// The server's address, for raw sockets.
fn socket_address(shim: &Shim) -> String {
    shim.base_url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection: how long that took (panics after 20 s).
async fn time_until_closed(mut reader: impl tokio::io::AsyncRead + Unpin) -> Duration {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(20), async {
        // An error (a reset) counts as closed too.
        while let Ok(read) = reader.read(&mut buffer).await {
            if read == 0 {
                break;
            }
        }
    })
    .await
    .expect("the server kept the connection open for 20 s");
    start.elapsed()
}

#[tokio::test]
async fn slow_and_idle_connections_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let f = Fixture::with_args(
        "http_slow",
        &["--header-read-timeout", "2s", "--idle-timeout", "3s"],
    )
    .await;
    let address = socket_address(&f.shim);

    // One header line a second: cut off when the 2 s for the whole head are up.
    let (reader, mut writer) = TcpStream::connect(&address).await.unwrap().into_split();
    writer
        .write_all(b"GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let drip = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if writer.write_all(b"X-Drip: 1\r\n").await.is_err() {
                break;
            }
        }
    });
    let dripping = time_until_closed(reader).await;
    drip.abort();
    assert!(dripping < Duration::from_secs(4), "{dripping:?}");

    // A connection that never says anything: the idle timeout, 3 s.
    let silent = TcpStream::connect(&address).await.unwrap();
    let idle = time_until_closed(silent).await;
    assert!(idle < Duration::from_secs(5), "{idle:?}");

    // A body that stalls after its head: closed after 3 s without any byte either way (the
    // request timeout, 10 s, would come much later).
    let mut stalled = TcpStream::connect(&address).await.unwrap();
    stalled
        .write_all(
            format!(
                "POST /v2/databases/{}{RESET} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"email\"",
                f.name
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let stalled_for = time_until_closed(stalled).await;
    assert!(
        stalled_for > Duration::from_millis(2500) && stalled_for < Duration::from_secs(5),
        "{stalled_for:?}"
    );

    // A normal request on a fresh connection is unaffected.
    let response = f
        .http
        .get(f.shim.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    use tokio::net::TcpStream;
    let f = Fixture::with_args(
        "http_cap",
        &["--max-connections", "2", "--idle-timeout", "2s"],
    )
    .await;
    let address = socket_address(&f.shim);
    let _first = TcpStream::connect(&address).await.unwrap();
    let _second = TcpStream::connect(&address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Both slots are taken: the third connection is not served...
    let quick = Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    assert!(
        quick.get(f.shim.url("/openapi.yaml")).send().await.is_err(),
        "a third connection was served while two were open"
    );
    // ...until the silent ones are cut off by the idle timeout.
    let response = f
        .http
        .get(f.shim.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A connection to `address` from `source`, a loopback address: Linux routes all of 127/8 to
/// the loopback interface, so 127.0.0.2 is another client of a server on 127.0.0.1.
async fn connect_from(source: &str, address: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(address.parse().unwrap()).await.unwrap()
}

/// Asks for /openapi.yaml on `stream`: the answer's first bytes (none if the server closed the
/// connection without one) and how long until the server closed it.
async fn ask(mut stream: tokio::net::TcpStream) -> (Vec<u8>, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = std::time::Instant::now();
    // A write to a connection the server already closed may fail: the read then tells.
    let _ = stream
        .write_all(b"GET /openapi.yaml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(5), async {
        // An error (a reset) counts as closed too.
        while let Ok(read) = stream.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..read]);
        }
    })
    .await
    .expect("the server kept the connection open for 5 s");
    answer.truncate(12);
    (answer, start.elapsed())
}

const SERVED: &[u8] = b"HTTP/1.1 200";

#[tokio::test]
async fn one_client_cannot_take_every_connection() {
    let f = Fixture::with_args(
        "http_per_client",
        &[
            "--max-connections",
            "6",
            "--max-connections-per-client",
            "4",
            "--idle-timeout",
            "30s",
        ],
    )
    .await;
    let address = socket_address(&f.shim);
    // More silent connections from one client than the whole server takes.
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(connect_from("127.0.0.1", &address).await);
    }

    // The client has its four: a further connection is closed at once, unanswered...
    let (answer, closed_after) = ask(connect_from("127.0.0.1", &address).await).await;
    assert!(
        answer.is_empty() && closed_after < Duration::from_secs(1),
        "{:?} after {closed_after:?}",
        String::from_utf8_lossy(&answer)
    );
    // ...while another client is served.
    let (answer, _) = ask(connect_from("127.0.0.2", &address).await).await;
    assert_eq!(answer, SERVED);

    // Once its connections close, the client is served again.
    drop(silent);
    crate::support::wait_for(Duration::from_secs(5), "a free connection", || async {
        let (answer, _) = ask(connect_from("127.0.0.1", &address).await).await;
        (answer == SERVED).then_some(())
    })
    .await;
}

#[tokio::test]
async fn under_the_per_client_cap_the_same_connection_is_served() {
    let f = Fixture::with_args(
        "http_per_client_raised",
        &["--max-connections-per-client", "5", "--idle-timeout", "30s"],
    )
    .await;
    let address = socket_address(&f.shim);
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(connect_from("127.0.0.1", &address).await);
    }
    let (answer, _) = ask(connect_from("127.0.0.1", &address).await).await;
    assert_eq!(answer, SERVED);
}
