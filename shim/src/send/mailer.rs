//! Where messages go, and how a failure is classified: permanent failures
//! (SMTP 5xx) make an email dead, every other one is retried later.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One `<uuid>.eml` file per message, for development.
    File(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Debug)]
pub struct DeliveryError {
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

    pub async fn send(&self, message: Message) -> Result<(), DeliveryError> {
        match self {
            Self::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|error| DeliveryError {
                        // A 5xx reply will not change by retrying; everything else
                        // (4xx, timeouts, refused connections, TLS trouble that an
                        // operator may fix) is worth another attempt.
                        permanent: error.is_permanent(),
                        summary: smtp_summary(&error),
                        detail: error.to_string(),
                    })
            }
            Self::File(transport) => {
                transport
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|error| DeliveryError {
                        permanent: false,
                        summary: "cannot write the message file".into(),
                        detail: error.to_string(),
                    })
            }
        }
    }
}

fn smtp_summary(error: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = error.status() {
        format!("SMTP reply {code}")
    } else if error.is_timeout() {
        "SMTP timeout".into()
    } else if error.is_tls() {
        "SMTP TLS failure".into()
    } else {
        "SMTP connection failure".into()
    }
}
