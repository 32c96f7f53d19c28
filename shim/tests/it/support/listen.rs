//! A plain LISTEN session, as anyone's own sender would open one: no sleep
//! lock, no presence lock, just `LISTEN channel` and the notifications.

use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

pub struct Listener {
    /// Kept open: dropping it ends the session.
    _client: Client,
    payloads: mpsc::UnboundedReceiver<String>,
}

impl Listener {
    /// Connects to `url` and LISTENs on `channel`.
    pub async fn start(url: &str, channel: &str) -> Listener {
        let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        let (forward, payloads) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(notification) = message {
                    let _ = forward.send(notification.payload().to_owned());
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .await
            .unwrap();
        Listener {
            _client: client,
            payloads,
        }
    }

    /// The payload of the next notification, if one arrives within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<String> {
        tokio::time::timeout(timeout, self.payloads.recv())
            .await
            .ok()
            .flatten()
    }
}
