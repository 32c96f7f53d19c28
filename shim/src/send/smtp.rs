//! The SMTP transport, configured from a URL plus credentials kept out of
//! that URL (and so out of process listings and error messages).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use url::{Host, Url};

/// The environment variable the SMTP password may come from.
pub const PASSWORD_ENV: &str = "NILE_RESET_SMTP_PASSWORD";

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
    pub connections: u32,
}

pub fn transport(options: SmtpOptions<'_>) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let endpoint = parse_url(options.url)?;
    let tls = |host: &str| {
        TlsParameters::new(host.to_owned()).context("cannot set up TLS for the SMTP server")
    };
    let tls = match endpoint.security {
        Security::Plain => Tls::None,
        Security::Opportunistic => Tls::Opportunistic(tls(&endpoint.host)?),
        Security::StartTls => Tls::Required(tls(&endpoint.host)?),
        Security::Implicit => Tls::Wrapper(tls(&endpoint.host)?),
    };
    // "dangerous" only means that TLS is whatever we set just above.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(endpoint.host)
        .port(endpoint.port)
        .tls(tls)
        .timeout(Some(options.timeout))
        .pool_config(PoolConfig::new().max_size(options.connections));
    if let Some(credentials) = credentials(options.username, options.password_file)? {
        builder = builder.credentials(credentials);
    }
    Ok(builder.build())
}

/// Errors never quote the URL: a mistyped one may still hold a secret.
fn parse_url(text: &str) -> anyhow::Result<Endpoint> {
    let url =
        Url::parse(text).map_err(|e| anyhow::anyhow!("the SMTP URL is not a valid URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "the SMTP URL must not contain credentials: use --smtp-username with \
             {PASSWORD_ENV} or --smtp-password-file"
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

fn credentials(
    username: Option<&str>,
    password_file: Option<&Path>,
) -> anyhow::Result<Option<Credentials>> {
    let password = match password_file {
        Some(path) => {
            let content = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the SMTP password file {}", path.display())
            })?;
            Some(content.trim_end_matches(['\r', '\n']).to_owned())
        }
        None => std::env::var(PASSWORD_ENV).ok(),
    };
    match (username, password) {
        (Some(username), Some(password)) => {
            Ok(Some(Credentials::new(username.to_owned(), password)))
        }
        (None, None) => Ok(None),
        (Some(_), None) => {
            bail!("--smtp-username needs a password: set {PASSWORD_ENV} or --smtp-password-file")
        }
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
        let credentials = credentials(Some("mailer"), Some(&file)).unwrap();
        assert_eq!(
            credentials,
            Some(Credentials::new("mailer".into(), "s3cret".into()))
        );
        assert!(credentials_error(None, Some(&file)).contains("without --smtp-username"));
        std::fs::remove_file(&file).unwrap();
    }

    fn credentials_error(username: Option<&str>, file: Option<&Path>) -> String {
        credentials(username, file)
            .expect_err("credentials were accepted")
            .to_string()
    }
}
