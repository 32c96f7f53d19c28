//! The SMTP relay, configured from a URL plus credentials kept out of that
//! URL (and so out of process listings and error messages).
//!
//! Connections are this module's own rather than lettre's pool: each one
//! sets TCP_NODELAY (without it every command waits on delayed ACKs, and a
//! local relay took 24 emails/s), is kept open for the next message, and
//! tells apart the two failures that matter to the outbox: the relay could
//! not be reached (connect, greeting, TLS, AUTH, or a connection that broke
//! without an answer), which says nothing about the message, and the
//! server's answer about the message itself.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context as _};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use url::{Host, Url};

use crate::secrets::{Loaded, SecretSource};

/// Where the SMTP AUTH password may come from (never the command line).
pub const SMTP_PASSWORD: SecretSource = SecretSource {
    what: "the SMTP password",
    env: "NILE_RESET_SMTP_PASSWORD",
    file_flag: "--smtp-password-file",
    file_env: "NILE_RESET_SMTP_PASSWORD_FILE",
};

#[derive(Debug, PartialEq, Eq)]
enum Security {
    /// No TLS at all: local relays and test servers only.
    Plain,
    /// STARTTLS when the server offers it, plain text otherwise.
    Opportunistic,
    /// STARTTLS, and fail if the server does not offer it.
    StartTls,
    /// TLS from the first byte (smtps, "implicit TLS").
    Implicit,
}

#[derive(Debug, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    security: Security,
}

pub struct SmtpOptions<'a> {
    pub url: &'a str,
    pub username: Option<&'a str>,
    pub password_file: Option<&'a Path>,
    pub timeout: Duration,
}

/// Why a message did not go out.
#[derive(Debug)]
pub enum SendError {
    /// No SMTP session could be had, or it broke without answering: try
    /// later, and do not count it against the message.
    Unreachable { summary: String, detail: String },
    /// The server answered about this message (4xx or 5xx).
    Refused(lettre::transport::smtp::Error),
}

/// One SMTP relay and the connections kept open to it.
pub struct Relay {
    endpoint: Endpoint,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    /// Connections between two messages; at most one per concurrent send.
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

impl Relay {
    pub fn new(options: SmtpOptions<'_>) -> anyhow::Result<Relay> {
        let endpoint = parse_url(options.url)?;
        let tls = match endpoint.security {
            Security::Plain => None,
            _ => Some(
                TlsParameters::new(endpoint.host.clone())
                    .context("cannot set up TLS for the SMTP server")?,
            ),
        };
        Ok(Relay {
            endpoint,
            tls,
            credentials: credentials(options.username, SMTP_PASSWORD.load(options.password_file)?)?,
            timeout: options.timeout,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one message, on an open connection when there is one. A kept
    /// connection the server has closed meanwhile gets one fresh retry.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let mut kept = self.take_idle();
        loop {
            let fresh = kept.is_none();
            let mut connection = match kept.take() {
                Some(connection) => connection,
                None => self.connect().await?,
            };
            match tokio::time::timeout(self.timeout, connection.send(envelope, message)).await {
                Ok(Ok(_)) => {
                    self.put_back(connection);
                    return Ok(());
                }
                // 421: the server is closing the session, whatever the message.
                Ok(Err(error)) if closing(&error) && !fresh => continue,
                Ok(Err(error)) if closing(&error) => {
                    return Err(unreachable("the SMTP relay is closing sessions", &error));
                }
                Ok(Err(error)) if error.status().is_some() => {
                    if !connection.has_broken() {
                        self.put_back(connection);
                    }
                    return Err(SendError::Refused(error));
                }
                Ok(Err(_)) if !fresh => continue,
                Ok(Err(error)) => {
                    return Err(unreachable("the SMTP connection broke", &error));
                }
                Err(_) => {
                    return Err(SendError::Unreachable {
                        summary: "SMTP timeout".into(),
                        detail: format!("no answer within {:?}", self.timeout),
                    })
                }
            }
        }
    }

    /// One connection attempt, kept open for the next message: whether the
    /// relay can be reached again after an outage.
    pub async fn probe(&self) -> Result<(), SendError> {
        // Connections kept from before the outage are most likely broken.
        self.idle.lock().expect("never poisoned").clear();
        let connection = self.connect().await?;
        self.put_back(connection);
        Ok(())
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().expect("never poisoned").pop()
    }

    fn put_back(&self, connection: AsyncSmtpConnection) {
        self.idle.lock().expect("never poisoned").push(connection);
    }

    /// Connect, greeting, EHLO, TLS and AUTH, within the timeout.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Unreachable {
                summary: "SMTP timeout while connecting".into(),
                detail: format!("no SMTP session within {:?}", self.timeout),
            }),
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let Endpoint {
            host,
            port,
            security,
        } = &self.endpoint;
        let mut connection = if *security == Security::Implicit {
            // lettre opens the socket itself here: TLS must start before the
            // greeting, which connect_with_transport reads at once.
            AsyncSmtpConnection::connect_tokio1(
                (host.as_str(), *port),
                Some(self.timeout),
                &self.hello,
                self.tls.clone(),
                None,
            )
            .await
            .map_err(|e| unreachable("cannot open an SMTP session", &e))?
        } else {
            let stream = TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(|e| SendError::Unreachable {
                    summary: "cannot connect to the SMTP relay".into(),
                    detail: e.to_string(),
                })?;
            stream
                .set_nodelay(true)
                .map_err(|e| SendError::Unreachable {
                    summary: "cannot set TCP_NODELAY".into(),
                    detail: e.to_string(),
                })?;
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                .await
                .map_err(|e| unreachable("no SMTP greeting", &e))?
        };
        let starttls = match security {
            Security::StartTls => true,
            Security::Opportunistic => connection.can_starttls(),
            Security::Plain | Security::Implicit => false,
        };
        if starttls {
            let tls = self
                .tls
                .clone()
                .expect("TLS parameters exist for TLS modes");
            connection
                .starttls(tls, &self.hello)
                .await
                .map_err(|e| unreachable("STARTTLS failed", &e))?;
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| unreachable("SMTP AUTH failed", &e))?;
        }
        Ok(connection)
    }
}

fn closing(error: &lettre::transport::smtp::Error) -> bool {
    error.status().is_some_and(|code| code.to_string() == "421")
}

/// A session-level failure: the summary (safe to log) names the step and
/// the reply code, the detail (stored, never logged) is lettre's text.
fn unreachable(step: &str, error: &lettre::transport::smtp::Error) -> SendError {
    let summary = match error.status() {
        Some(code) => format!("{step}: SMTP reply {code}"),
        None if error.is_tls() => format!("{step}: TLS failure"),
        None if error.is_timeout() => format!("{step}: timeout"),
        None => step.to_owned(),
    };
    SendError::Unreachable {
        summary,
        detail: error.to_string(),
    }
}

/// Errors never quote the URL: a mistyped one may still hold a secret.
fn parse_url(text: &str) -> anyhow::Result<Endpoint> {
    let url =
        Url::parse(text).map_err(|e| anyhow::anyhow!("the SMTP URL is not a valid URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "the SMTP URL must not contain credentials: use --smtp-username with {} or {}",
            SMTP_PASSWORD.env,
            SMTP_PASSWORD.file_flag
        );
    }
    let host = match url.host() {
        Some(Host::Domain(name)) => name.to_owned(),
        Some(Host::Ipv4(address)) => address.to_string(),
        Some(Host::Ipv6(address)) => address.to_string(),
        None => bail!("the SMTP URL has no host"),
    };
    if url.path() != "" && url.path() != "/" || url.fragment().is_some() {
        bail!("the SMTP URL must be just smtp[s]://host[:port][?tls=...]");
    }
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match &*key {
            "tls" if tls.is_none() => tls = Some(value.into_owned()),
            _ => bail!("the SMTP URL accepts one query parameter, tls"),
        }
    }
    let (security, default_port) = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => (Security::Implicit, 465),
        ("smtp", None | Some("none")) => (Security::Plain, 25),
        ("smtp", Some("opportunistic")) => (Security::Opportunistic, 587),
        ("smtp", Some("starttls" | "required")) => (Security::StartTls, 587),
        ("smtp", Some(_)) => bail!("tls= must be none, opportunistic or starttls"),
        ("smtps", Some(_)) => bail!("smtps:// always uses TLS; tls= applies to smtp:// only"),
        _ => bail!("the SMTP URL must start with smtp:// or smtps://"),
    };
    Ok(Endpoint {
        host,
        port: url.port().unwrap_or(default_port),
        security,
    })
}

/// The password as [`SMTP_PASSWORD`] found it: from the variable as is, from a file without
/// its final newline.
fn credentials(
    username: Option<&str>,
    password: Option<Loaded>,
) -> anyhow::Result<Option<Credentials>> {
    let password = password.map(Loaded::into_text).transpose()?;
    match (username, password) {
        (Some(username), Some(password)) => {
            Ok(Some(Credentials::new(username.to_owned(), password)))
        }
        (None, None) => Ok(None),
        (Some(_), None) => bail!(
            "--smtp-username needs a password: {}",
            SMTP_PASSWORD.how_to_set()
        ),
        (None, Some(_)) => bail!("an SMTP password was given without --smtp-username"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, port: u16, security: Security) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
            security,
        }
    }

    #[test]
    fn urls_select_port_and_tls() {
        assert_eq!(
            parse_url("smtp://mail.example.com").unwrap(),
            endpoint("mail.example.com", 25, Security::Plain)
        );
        assert_eq!(
            parse_url("smtp://127.0.0.1:2525").unwrap(),
            endpoint("127.0.0.1", 2525, Security::Plain)
        );
        assert_eq!(
            parse_url("smtp://mail.example.com?tls=starttls").unwrap(),
            endpoint("mail.example.com", 587, Security::StartTls)
        );
        assert_eq!(
            parse_url("smtp://mail.example.com:25?tls=opportunistic").unwrap(),
            endpoint("mail.example.com", 25, Security::Opportunistic)
        );
        assert_eq!(
            parse_url("smtps://[::1]").unwrap(),
            endpoint("::1", 465, Security::Implicit)
        );
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for url in [
            "http://mail.example.com",
            "smtp://user:hunter2@mail.example.com",
            "smtp://mail.example.com?tls=maybe",
            "smtps://mail.example.com?tls=starttls",
            "smtp://mail.example.com?tls=none&x=1",
            "smtp://mail.example.com/path",
            "smtp:hunter2",
        ] {
            let error = parse_url(url).expect_err(url).to_string();
            assert!(
                !error.contains("hunter2") && !error.contains("mail.example.com"),
                "{error}"
            );
        }
    }

    #[test]
    fn passwords_come_with_a_user_name() {
        let file =
            std::env::temp_dir().join(format!("nile-reset-smtp-password-{}", std::process::id()));
        std::fs::write(&file, "s3cret\n").unwrap();
        let from_file = || SMTP_PASSWORD.resolve(None, Some(&file)).unwrap();
        assert_eq!(
            credentials(Some("mailer"), from_file()).unwrap(),
            Some(Credentials::new("mailer".into(), "s3cret".into()))
        );
        assert!(credentials_error(None, from_file()).contains("without --smtp-username"));
        std::fs::remove_file(&file).unwrap();
        assert!(credentials_error(Some("mailer"), None).contains("NILE_RESET_SMTP_PASSWORD"));
        assert_eq!(credentials(None, None).unwrap(), None);
    }

    fn credentials_error(username: Option<&str>, password: Option<Loaded>) -> String {
        credentials(username, password)
            .expect_err("credentials were accepted")
            .to_string()
    }
}
