//! Raw connections: header-read and idle timeouts, and the connection cap.

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
