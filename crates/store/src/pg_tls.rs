//! TLS for the notification connection (tokio-postgres), read from the database URL as libpq
//! reads it for the pool: `sslmode` (`disable`, `allow`, `prefer`, `require`, `verify-ca`,
//! `verify-full`) and `sslrootcert` (a PEM file of trusted certificates, or `system` for the
//! system's). A TLS-only database (RDS, Azure, Cloud SQL with "require SSL") then serves the
//! notification connection as it serves the pool, and the caches are trusted.
//!
//! As libpq: `prefer` (the default) and `allow` encrypt when the server offers it and check
//! nothing; `require` insists on encryption, and checks the chain when a root certificate is
//! named; `verify-ca` checks the chain; `verify-full` the chain and the host name.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;

/// How the notification connection speaks to the server.
pub(crate) enum Tls {
    Plain,
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// The notification connection's configuration and TLS, from the database URL; the error
/// never repeats the URL (it may hold a password).
pub(crate) fn notification_config(url: &str) -> Result<(tokio_postgres::Config, Tls), String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let (mut mode, mut root) = ("prefer".to_owned(), None::<String>);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = decode(value),
            "sslrootcert" => root = Some(decode(value)),
            // libpq's own (client certificates, revocation lists, negotiation): not the
            // notification connection's to read; tokio-postgres would refuse them.
            "sslcert"
            | "sslkey"
            | "sslcrl"
            | "sslcrldir"
            | "sslpassword"
            | "sslcompression"
            | "sslsni"
            | "ssl_min_protocol_version"
            | "ssl_max_protocol_version"
            | "sslnegotiation"
            | "requiressl"
            | "gssencmode"
            | "krbsrvname"
            | "service"
            | "passfile" => {}
            _ => kept.push(pair),
        }
    }
    let cleaned = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: tokio_postgres::Config = cleaned
        .parse()
        .map_err(|e: tokio_postgres::Error| format!("the database URL cannot be read: {e}"))?;
    let verify = match mode.as_str() {
        "disable" => {
            config.ssl_mode(SslMode::Disable);
            return Ok((config, Tls::Plain));
        }
        "allow" | "prefer" => {
            config.ssl_mode(SslMode::Prefer);
            Verify::Nothing
        }
        "require" => {
            config.ssl_mode(SslMode::Require);
            match &root {
                Some(_) => Verify::Chain,
                None => Verify::Nothing,
            }
        }
        "verify-ca" => {
            config.ssl_mode(SslMode::Require);
            Verify::Chain
        }
        "verify-full" => {
            config.ssl_mode(SslMode::Require);
            Verify::ChainAndName
        }
        other => return Err(format!("sslmode `{other}` is not one libpq knows")),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let client = match verify {
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
            .with_no_client_auth(),
        Verify::Chain | Verify::ChainAndName => {
            let roots = Arc::new(trusted_roots(root.as_deref())?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| e.to_string())?;
            let checker: Arc<dyn ServerCertVerifier> = match verify {
                Verify::Chain => Arc::new(ChainOnly(webpki)),
                _ => webpki,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(checker)
                .with_no_client_auth()
        }
    };
    Ok((
        config,
        Tls::Rustls(tokio_postgres_rustls::MakeRustlsConnect::new(client)),
    ))
}

enum Verify {
    Nothing,
    Chain,
    ChainAndName,
}

/// `sslrootcert`: a PEM file, or `system`; absent, libpq's default `~/.postgresql/root.crt`.
fn trusted_roots(root: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let path = match root {
        Some("system") => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            return match added {
                0 => Err("sslrootcert=system: the system has no trusted certificates".into()),
                _ => Ok(store),
            };
        }
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::var_os("HOME")
            .map(|home| std::path::Path::new(&home).join(".postgresql/root.crt"))
            .ok_or("verifying the server needs sslrootcert")?,
    };
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("sslrootcert {}: no certificate in it", path.display()));
    }
    Ok(store)
}

/// `%2F` and the like in a URL's value.
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => match u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `prefer`, `allow`, `require` without a root: encrypted, the certificate not checked (as
/// libpq does); the handshake's signatures still are.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain up to a trusted root, whatever name the certificate carries.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(TlsError::InvalidCertificate(
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
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_settings_leave_the_url_and_set_the_mode() {
        let (config, tls) =
            notification_config("postgres://u:p@db.example:5432/t?sslmode=require&connect_timeout=2&sslcert=x")
                .unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert!(matches!(tls, Tls::Rustls(_)));
        let (config, tls) = notification_config("postgres://u@h/t?sslmode=disable").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Disable);
        assert!(matches!(tls, Tls::Plain));
        let (config, _) = notification_config("postgres://u@h/t").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Prefer);
        assert!(
            notification_config("postgres://u@h/t?sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem")
                .err()
                .unwrap()
                .contains("/nonexistent/ca.pem")
        );
        let refused = notification_config("postgres://u:hunter2@h/t?sslmode=sometimes")
            .err()
            .unwrap();
        assert!(refused.contains("sometimes") && !refused.contains("hunter2"));
    }
}
