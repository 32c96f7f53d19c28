//! Where messages go, and how a failure is classified: a relay that cannot
//! be reached defers the email without spending an attempt; a server's 5xx
//! answer makes it dead; every other answer is retried later.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use super::smtp::{Relay, SendError};

pub enum Mailer {
    Smtp(Relay),
    /// One `<uuid>.eml` file per message, for development.
    File(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Debug)]
pub struct DeliveryError {
    /// The relay could not be reached: nothing is known about the message.
    pub unreachable: bool,
    pub permanent: bool,
    /// What went wrong, safe to log: a category and the SMTP reply code.
    pub summary: String,
    /// Stored as the row's last_error; never logged, since a server may echo
    /// parts of the message in its reply.
    pub detail: String,
}

impl Mailer {
    /// The file transport's folder, created readable by this user only:
    /// the messages hold password reset links.
    pub fn file(folder: &Path) -> std::io::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)?;
        Ok(Self::File(AsyncFileTransport::new(folder)))
    }

    /// Whether the relay can be reached; the summary (safe to log) when not.
    pub async fn probe(&self) -> Result<(), String> {
        match self {
            Self::Smtp(relay) => relay.probe().await.map_err(|error| match error {
                SendError::Unreachable { summary, .. } => summary,
                SendError::Refused(error) => error
                    .status()
                    .map(|code| format!("SMTP reply {code}"))
                    .unwrap_or_else(|| "SMTP failure".into()),
            }),
            Self::File(_) => Ok(()),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), DeliveryError> {
        match self {
            Self::Smtp(relay) => relay
                .send(message.envelope(), &message.formatted())
                .await
                .map_err(|error| match error {
                    SendError::Unreachable { summary, detail } => DeliveryError {
                        unreachable: true,
                        permanent: false,
                        summary,
                        detail,
                    },
                    // A 5xx reply will not change by retrying; a 4xx may.
                    SendError::Refused(error) => DeliveryError {
                        unreachable: false,
                        permanent: error.is_permanent(),
                        summary: error
                            .status()
                            .map(|code| format!("SMTP reply {code}"))
                            .unwrap_or_else(|| "SMTP failure".into()),
                        detail: error.to_string(),
                    },
                }),
            Self::File(transport) => {
                transport
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|error| DeliveryError {
                        unreachable: false,
                        permanent: false,
                        summary: "cannot write the message file".into(),
                        detail: error.to_string(),
                    })
            }
        }
    }
}
