//! The LISTEN session: a dedicated connection that turns notifications into
//! wake-ups, kept alive across database restarts. Notifications sent while
//! nobody listens are lost, so every (re)connection also counts as a
//! wake-up. On each connection the sender LISTENs, then announces itself
//! awake (auth.sender_start); the worker announces its sleeps on the same
//! session (see wakeup.rs), and a clean stop ends with auth.sender_stop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, Client};
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::database;

const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(10);

/// The current LISTEN session, if connected.
#[derive(Clone, Default)]
pub struct Session(Arc<Mutex<Option<Arc<Client>>>>);

impl Session {
    pub fn current(&self) -> Option<Arc<Client>> {
        self.0
            .lock()
            .expect("the session lock is never poisoned")
            .clone()
    }

    fn set(&self, client: Option<Arc<Client>>) {
        *self.0.lock().expect("the session lock is never poisoned") = client;
    }
}

/// Listens on `channel` until `close` is cancelled, reconnecting with exponential backoff
/// whenever the connection fails or the server goes away. The jitter keeps senders cut off
/// together from reconnecting together.
pub async fn run(
    config: database::ConnectionSettings,
    channel: String,
    wake: Arc<Notify>,
    session: Session,
    close: CancellationToken,
) {
    let mut retry = Backoff::new(FIRST_RETRY, MAX_RETRY).with_jitter();
    loop {
        tokio::select! {
            result = listen(&config, &channel, &wake, &session, &mut retry) => match result {
                Ok(()) => tracing::warn!("the LISTEN connection was closed by the server; reconnecting"),
                Err(error) => tracing::warn!(error = database::describe(&error), "the LISTEN connection failed; reconnecting"),
            },
            () = close.cancelled() => return,
        }
        session.set(None);
        tokio::select! {
            () = tokio::time::sleep(retry.next_delay()) => {}
            () = close.cancelled() => return,
        }
    }
}

/// One connection's life: connect, LISTEN, sender_start, then forward notifications until
/// the connection ends. Resets the backoff once listening works again.
async fn listen(
    config: &database::ConnectionSettings,
    channel: &str,
    wake: &Notify,
    session: &Session,
    retry: &mut Backoff,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(config.tls()).await?;
    let client = Arc::new(client);
    // The connection object performs the I/O and yields the notifications;
    // it must be polled for as long as the client is in use.
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {}", quote_identifier(channel));
    let start = async {
        client.batch_execute(&statement).await?;
        // True: this sender answers for queued rows, so queuing transactions
        // may skip their NOTIFY while it is awake.
        client
            .query_one("SELECT auth.sender_start($1)", &[&channel])
            .await?
            .try_get::<_, bool>(0)
    };
    tokio::pin!(start);
    let present = loop {
        tokio::select! {
            result = &mut start => break result?,
            message = messages.next() => match message {
                Some(Ok(message)) => forward(message, wake),
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            },
        }
    };
    tracing::info!(channel, present, "listening for outbox notifications");
    retry.reset();
    session.set(Some(client.clone()));
    // Whatever was queued while we were not listening is waiting now.
    wake.notify_one();

    while let Some(message) = messages.next().await {
        forward(message?, wake);
    }
    Ok(())
}

fn forward(message: AsyncMessage, wake: &Notify) {
    if let AsyncMessage::Notification(_) = message {
        // The payload is not needed: any notification means "drain now".
        // Notify keeps one pending wake-up, so a burst coalesces into one drain.
        wake.notify_one();
    }
}

/// LISTEN takes an identifier, not a parameter: quote it so that any channel
/// name is taken literally, exactly as pg_notify(text, ...) spells it.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_quoted_literally() {
        assert_eq!(quote_identifier("plain_name"), "\"plain_name\"");
        assert_eq!(quote_identifier("Mixed Case"), "\"Mixed Case\"");
        assert_eq!(
            quote_identifier("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }
}
