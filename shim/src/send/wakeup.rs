//! The extension's coalesced wake-ups (sql/wakeup.sql): a transaction that
//! queues email NOTIFYs only while some sender is asleep, because notifying
//! commits are serialized cluster-wide. A sender announces that it sleeps by
//! holding the channel's advisory lock on its LISTEN session
//! (auth.sender_sleep), and gives it back when it wakes (auth.sender_awake).
//! While awake it holds the presence lock instead (auth.sender_start,
//! auth.sender_awake), which lets queuing transactions skip their NOTIFY.
//! If that session dies, the locks go with it and the sender simply polls.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_postgres::Client;

use super::listener::Session;

pub struct WakeUps {
    /// Signalled on notifications and on every new LISTEN session.
    pub bell: Arc<Notify>,
    session: Session,
    channel: String,
}

/// A sender asleep: it holds the sleep lock on this session.
pub struct Asleep {
    client: Arc<Client>,
    channel: String,
}

impl WakeUps {
    pub fn new(bell: Arc<Notify>, session: Session, channel: String) -> Self {
        Self {
            bell,
            session,
            channel,
        }
    }

    /// Some when this sender now holds the sleep lock, so that queueing
    /// transactions will notify it. None when there is no LISTEN session, or
    /// transactions that queued email are still committing, or another
    /// sender already sleeps (it is notified, and so are we: every listener
    /// gets each notification).
    pub async fn fall_asleep(&self) -> Option<Asleep> {
        let client = self.session.current()?;
        match client
            .query_one("SELECT auth.sender_sleep($1)", &[&self.channel])
            .await
        {
            Ok(row) => match row.try_get::<_, bool>(0) {
                Ok(true) => Some(Asleep {
                    client,
                    channel: self.channel.clone(),
                }),
                Ok(false) => None,
                Err(error) => {
                    tracing::warn!(%error, "auth.sender_sleep answered oddly");
                    None
                }
            },
            Err(error) => {
                tracing::warn!(%error, "cannot announce sleep with auth.sender_sleep");
                None
            }
        }
    }
}

impl WakeUps {
    /// A clean stop: queuing transactions notify again from now on.
    pub async fn stop(&self) {
        let Some(client) = self.session.current() else {
            return;
        };
        if let Err(error) = client
            .execute("SELECT auth.sender_stop($1)", &[&self.channel])
            .await
        {
            // The session is gone, and the locks with it.
            tracing::debug!(%error, "cannot announce the stop");
        }
    }
}

impl Asleep {
    pub async fn wake_up(self) {
        match self
            .client
            .query_one("SELECT auth.sender_awake($1)", &[&self.channel])
            .await
        {
            Ok(row) if row.try_get::<_, bool>(0).unwrap_or(false) => {}
            // Not ours to release: should not happen (sleep and awake pair up
            // on one session). Delivery stays correct either way.
            Ok(_) => tracing::warn!("auth.sender_awake found no sleep lock to release"),
            // The session is gone, and the lock with it.
            Err(error) => tracing::debug!(%error, "cannot release the sleep lock"),
        }
    }
}
