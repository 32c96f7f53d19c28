//! The LISTEN session: a dedicated connection that turns notifications into
//! wake-ups, kept alive across database restarts. Notifications sent while
//! nobody listens are lost, so every (re)connection also counts as a
//! wake-up. The session is shared with the worker, which announces on it
//! when it goes to sleep (see wakeup.rs).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::sync::{watch, Notify};
use tokio_postgres::{AsyncMessage, Client};

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

/// Listens on `channel` until shutdown, reconnecting with exponential backoff
/// whenever the connection fails or the server goes away.
pub async fn run(
    config: database::ConnectionSettings,
    channel: String,
    wake: Arc<Notify>,
    session: Session,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut retry_in = FIRST_RETRY;
    loop {
        tokio::select! {
            result = listen(&config, &channel, &wake, &session, &mut retry_in) => match result {
                Ok(()) => tracing::warn!("the LISTEN connection was closed by the server; reconnecting"),
                Err(error) => tracing::warn!(error = database::describe(&error), "the LISTEN connection failed; reconnecting"),
            },
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        session.set(None);
        tokio::select! {
            _ = tokio::time::sleep(jittered(retry_in)) => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        retry_in = (retry_in * 2).min(MAX_RETRY);
    }
}

/// One connection's life: connect, LISTEN, then forward notifications until
/// the connection ends. Resets the backoff once listening works again.
async fn listen(
    config: &database::ConnectionSettings,
    channel: &str,
    wake: &Notify,
    session: &Session,
    retry_in: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(config.tls()).await?;
    let client = Arc::new(client);
    // The connection object performs the I/O and yields the notifications;
    // it must be polled for as long as the client is in use.
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {}", quote_identifier(channel));
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    loop {
        tokio::select! {
            result = &mut listen => { result?; break; }
            message = messages.next() => match message {
                Some(Ok(message)) => forward(message, wake),
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            },
        }
    }
    tracing::info!(channel, "listening for outbox notifications");
    *retry_in = FIRST_RETRY;
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

/// A delay in [d/2, d], so that senders cut off together do not reconnect together.
fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + rand::random::<f64>() * 0.5)
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

    #[test]
    fn jitter_stays_within_half_and_full_delay() {
        for _ in 0..100 {
            let delay = jittered(Duration::from_secs(2));
            assert!(
                delay >= Duration::from_secs(1) && delay <= Duration::from_secs(2),
                "{delay:?}"
            );
        }
    }
}
