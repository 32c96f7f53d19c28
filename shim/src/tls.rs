//! TLS to PostgreSQL with libpq's `sslmode` meanings, through rustls:
//!
//! | sslmode | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | never | |
//! | `prefer` (default) | if the server offers it | no |
//! | `require` | always, else the connection fails | no |
//! | `verify-ca` | always | signed by `sslrootcert` |
//! | `verify-full` | always | signed by `sslrootcert` and issued for the host connected to |
//!
//! `verify-ca` and `verify-full` need `sslrootcert` (a PEM file of CA certificates), or
//! `sslrootcert=system` for the operating system's trust store. As with libpq, `prefer` and
//! `require` with `sslrootcert` naming a file check the certificate as `verify-ca` does, and
//! `sslrootcert=system` means `verify-full` (a weaker mode with it is refused). (libpq also
//! reads `~/.postgresql/root.crt` when no `sslrootcert` is given; this does not.) tokio-postgres itself only
//! knows disable/prefer/require, so both parameters are taken out of the connection string
//! here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> anyhow::Result<SslMode> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's "allow" would try plain text first: never what a reset service wants.
            other => bail!(
                "sslmode {other:?} is not supported (disable, prefer, require, verify-ca, verify-full)"
            ),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether TLS is tried, and whether it is required.
    pub fn wire(self) -> WireSslMode {
        match self {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Prefer => WireSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
        }
    }
}

/// Where the CA certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCerts {
    File(PathBuf),
    System,
}

/// The TLS part of a connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub root_certs: Option<RootCerts>,
}

/// Takes `sslmode` and `sslrootcert` out of a URL (`postgres://...?sslmode=...`) or a
/// `key=value` connection string; returns the rest unchanged. What the string does not set
/// comes from libpq's environment (`PGSSLMODE`, `PGSSLROOTCERT`), read through `env`.
pub fn split_settings(
    dsn: &str,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(String, TlsSettings)> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> anyhow::Result<bool> {
        match key {
            "sslmode" => mode = Some(SslMode::parse(value)?),
            "sslrootcert" if value == "system" => root = Some(RootCerts::System),
            "sslrootcert" => root = Some(RootCerts::File(PathBuf::from(value))),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        match dsn.split_once('?') {
            None => dsn.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&') {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let value = percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .context("the database URL's query is not valid UTF-8")?;
                    if !take(key, &value)? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for word in dsn.split_whitespace() {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            if !take(key.trim(), value.trim_matches('\''))? {
                kept.push(word);
            }
        }
        kept.join(" ")
    };
    if mode.is_none() {
        if let Some(value) = env("PGSSLMODE").filter(|v| !v.is_empty()) {
            mode = Some(SslMode::parse(&value).context("PGSSLMODE")?);
        }
    }
    if root.is_none() {
        root = env("PGSSLROOTCERT")
            .filter(|v| !v.is_empty())
            .map(|value| match value.as_str() {
                "system" => RootCerts::System,
                _ => RootCerts::File(PathBuf::from(value)),
            });
    }
    // The system's trust store is for public CAs, which sign certificates
    // for any name: only verify-full means anything with it (libpq 16+).
    let mode = match (mode, &root) {
        (None, Some(RootCerts::System)) => SslMode::VerifyFull,
        (Some(weak), Some(RootCerts::System)) if weak != SslMode::VerifyFull => bail!(
            "sslmode {} may not be used with sslrootcert=system (use verify-full)",
            weak.name()
        ),
        (mode, _) => mode.unwrap_or(SslMode::Prefer),
    };
    let settings = TlsSettings {
        mode,
        root_certs: root,
    };
    if matches!(settings.mode, SslMode::VerifyCa | SslMode::VerifyFull)
        && settings.root_certs.is_none()
    {
        bail!("sslmode=verify-ca and verify-full need sslrootcert (a PEM file, or `system`)");
    }
    Ok((rest, settings))
}

/// The connector for `settings`: rustls for TCP hosts. libpq never uses TLS over a Unix-domain
/// socket (the kernel already tells who is at the other end), and tokio-postgres asks for a
/// TLS connector even for a socket, with an empty host name that rustls refuses: for a socket
/// this hands out one that is never used (its wire mode is `disable`, see
/// `database::connection_config`).
#[derive(Clone)]
pub struct Connector(MakeRustlsConnect);

/// What [`Connector`] gives one connection.
pub enum HostConnector<T> {
    Tcp(T),
    UnixSocket,
}

impl<S> MakeTlsConnect<S> for Connector
where
    MakeRustlsConnect: MakeTlsConnect<S>,
    <<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect as TlsConnect<S>>::Future: Send + 'static,
    <<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect as TlsConnect<S>>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>>,
    S: Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = HostConnector<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<Self::TlsConnect, Self::Error> {
        if host.is_empty() {
            // tokio-postgres passes "" exactly for Unix-domain sockets.
            return Ok(HostConnector::UnixSocket);
        }
        MakeTlsConnect::<S>::make_tls_connect(&mut self.0, host).map(HostConnector::Tcp)
    }
}

impl<S, T> TlsConnect<S> for HostConnector<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S: Send + 'static,
{
    type Stream = T::Stream;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<T::Stream, Self::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        match self {
            HostConnector::Tcp(tls) => {
                let handshake = tls.connect(stream);
                Box::pin(async move { handshake.await.map_err(Into::into) })
            }
            HostConnector::UnixSocket => {
                Box::pin(async { Err("TLS is never used over a Unix-domain socket".into()) })
            }
        }
    }
}

/// The rustls connector for `settings`.
pub fn connector(settings: &TlsSettings) -> anyhow::Result<Connector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS set-up failed")?;
    // libpq checks the CA in prefer and require too when it has a root file.
    let checks_ca = match settings.mode {
        SslMode::Disable => false,
        SslMode::Prefer | SslMode::Require => {
            matches!(settings.root_certs, Some(RootCerts::File(_)))
        }
        SslMode::VerifyCa | SslMode::VerifyFull => true,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match checks_ca {
        false => Arc::new(Unverified(provider)),
        true => {
            let roots = match &settings.root_certs {
                Some(RootCerts::File(path)) => roots_from_file(path)?,
                Some(RootCerts::System) | None => system_roots()?,
            };
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .context("cannot use the CA certificates")?;
            if settings.mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(AnyName(webpki))
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Connector(MakeRustlsConnect::new(config)))
}

fn roots_from_file(path: &Path) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read sslrootcert {}", path.display()))?;
    for certificate in certificates {
        let certificate =
            certificate.with_context(|| format!("sslrootcert {} is not PEM", path.display()))?;
        roots
            .add(certificate)
            .with_context(|| format!("sslrootcert {} holds a bad certificate", path.display()))?;
    }
    if roots.is_empty() {
        bail!("sslrootcert {} holds no certificate", path.display());
    }
    Ok(roots)
}

fn system_roots() -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for certificate in found.certs {
        // One unusable system certificate should not stop the others.
        let _ = roots.add(certificate);
    }
    if roots.is_empty() {
        bail!("no usable CA certificate in the system's trust store (sslrootcert=system)");
    }
    Ok(roots)
}

/// `require` and `prefer` without an `sslrootcert` file: encrypted, the certificate not checked
/// (libpq's meaning). The
/// handshake signatures are still verified, so the session key belongs to whoever holds the
/// certificate's key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA; the name it was issued for is not checked.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn tls_parameters_leave_urls_and_keyword_strings() {
        let (rest, tls) = split_settings(
            "postgres://u@db/app?sslmode=verify-full&sslrootcert=%2Fca.pem&application_name=x",
            no_env,
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@db/app?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_certs, Some(RootCerts::File("/ca.pem".into())));

        let (rest, tls) = split_settings("host=db dbname=app sslmode=require", no_env).unwrap();
        assert_eq!(rest, "host=db dbname=app");
        assert_eq!((tls.mode, tls.root_certs), (SslMode::Require, None));

        let (rest, tls) = split_settings("postgres://u@db/app", no_env).unwrap();
        assert_eq!(rest, "postgres://u@db/app");
        assert_eq!(tls.mode, SslMode::Prefer);
    }

    #[test]
    fn verifying_modes_need_a_root_certificate_and_unknown_modes_are_refused() {
        assert!(split_settings("postgres://db/app?sslmode=verify-ca", no_env).is_err());
        assert!(split_settings("postgres://db/app?sslmode=allow", no_env).is_err());
        let (_, tls) = split_settings(
            "postgres://db/app?sslmode=verify-full&sslrootcert=system",
            no_env,
        )
        .unwrap();
        assert_eq!(tls.root_certs, Some(RootCerts::System));
    }

    #[test]
    fn the_system_trust_store_means_verify_full() {
        let (_, tls) = split_settings("postgres://db/app?sslrootcert=system", no_env).unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        for weak in ["prefer", "require", "verify-ca"] {
            let error = split_settings(
                &format!("postgres://db/app?sslmode={weak}&sslrootcert=system"),
                no_env,
            )
            .unwrap_err()
            .to_string();
            assert!(error.contains("use verify-full"), "{error}");
        }
    }

    #[test]
    fn libpq_environment_fills_what_the_string_leaves_out() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("require".to_owned()),
            "PGSSLROOTCERT" => Some("/etc/ssl/db-ca.pem".to_owned()),
            _ => None,
        };
        let (_, tls) = split_settings("postgres://u@db/app", env).unwrap();
        assert_eq!(tls.mode, SslMode::Require);
        assert_eq!(
            tls.root_certs,
            Some(RootCerts::File(PathBuf::from("/etc/ssl/db-ca.pem")))
        );
        // The string wins over the environment.
        let (_, tls) = split_settings("postgres://u@db/app?sslmode=disable", env).unwrap();
        assert_eq!(tls.mode, SslMode::Disable);
        let bad = |name: &str| (name == "PGSSLMODE").then(|| "allow".to_owned());
        assert!(split_settings("postgres://u@db/app", bad).is_err());
    }
}
