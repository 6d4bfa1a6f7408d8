use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

use crate::Config;

/// The PEM files that turn TLS, and optionally mutual TLS, on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key of the leaf certificate.
    pub key: PathBuf,
    /// CAs whose client certificates are accepted; `None` means no client
    /// certificate is asked for.
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS files cannot be served with.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `--tls-cert` and `--tls-key` come as a pair, and `--client-ca` needs them.
    #[error("{0}")]
    Usage(&'static str),
    /// A file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Unreadable {
        /// Which flag's file, in words.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but holds no usable PEM item of the expected kind.
    #[error("{what} {} is not usable: {problem}", path.display())]
    Unparsable {
        /// Which flag's file, in words.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Each file parsed, but rustls refuses them together (for example a key
    /// that does not match the certificate).
    #[error("cannot serve TLS with {files}: {reason}")]
    Rejected {
        /// The files, named as their flags.
        files: String,
        /// rustls' reason.
        reason: String,
    },
}

impl TlsFiles {
    /// The TLS files of `config`, `None` for plaintext. Programmatic configs
    /// bypass clap's checks, so the pairing rules are enforced here too.
    pub fn from_config(config: &Config) -> Result<Option<Self>, TlsError> {
        match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(Self {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: config.client_ca.clone(),
            })),
            (None, None) if config.client_ca.is_some() => Err(TlsError::Usage(
                "--client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first",
            )),
            (None, None) => Ok(None),
            _ => Err(TlsError::Usage(
                "--tls-cert and --tls-key go together: give both or neither",
            )),
        }
    }

    /// Reads and checks every file, naming the first one that is unusable, and
    /// returns rustls' configuration for them; errors that only the files
    /// together cause (a key that does not match the certificate, say) are
    /// [`TlsError::Rejected`].
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let chain = read_pem("the TLS certificate (--tls-cert)", &self.cert, certificates)?;
        let key = read_pem("the TLS key (--tls-key)", &self.key, |pem| {
            PrivateKeyDer::from_pem_slice(pem)
        })?;
        // ring, named rather than left to rustls' process-wide default, which
        // is ambiguous once another crate in the build enables aws-lc-rs.
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| self.rejected(&error))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for root in read_pem("the client CA file (--client-ca)", path, certificates)? {
                    roots.add(root).map_err(|error| self.rejected(&error))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|error| self.rejected(&error))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        // rustls checks here that the key matches the certificate.
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|error| self.rejected(&error))?;
        // HTTP/2 first; HTTP/1.1 for gRPC-Web clients that offer only it.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The error for files that parse one by one but that rustls refuses together.
    #[must_use]
    pub fn rejected(&self, error: &(dyn std::error::Error + 'static)) -> TlsError {
        TlsError::Rejected {
            files: self.to_string(),
            reason: service_kit::error_chain(error),
        }
    }

    /// Whether clients must present a certificate.
    #[must_use]
    pub fn is_mutual(&self) -> bool {
        self.client_ca.is_some()
    }
}

impl fmt::Display for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--tls-cert {} and --tls-key {}",
            self.cert.display(),
            self.key.display()
        )?;
        if let Some(ca) = &self.client_ca {
            write!(f, " and --client-ca {}", ca.display())?;
        }
        Ok(())
    }
}

/// Every certificate of a PEM file, which must hold at least one.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, rustls_pki_types::pem::Error> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(rustls_pki_types::pem::Error::NoItemsFound);
    }
    Ok(certs)
}

/// Reads `path` and parses its PEM with `parse`, naming the file on failure.
fn read_pem<T>(
    what: &'static str,
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, rustls_pki_types::pem::Error>,
) -> Result<T, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Unreadable {
        what,
        path: path.to_owned(),
        source,
    })?;
    parse(&pem).map_err(|error| TlsError::Unparsable {
        what,
        path: path.to_owned(),
        problem: match error {
            rustls_pki_types::pem::Error::NoItemsFound => "no PEM item of the right kind".into(),
            other => other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(cert: Option<&str>, key: Option<&str>, ca: Option<&str>) -> Config {
        let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
        config.tls_cert = cert.map(PathBuf::from);
        config.tls_key = key.map(PathBuf::from);
        config.client_ca = ca.map(PathBuf::from);
        config
    }

    #[test]
    fn plaintext_is_the_default() {
        assert_eq!(
            TlsFiles::from_config(&config_with(None, None, None)).unwrap(),
            None
        );
    }

    #[test]
    fn half_a_pair_is_a_usage_error() {
        for config in [
            config_with(Some("c.pem"), None, None),
            config_with(None, Some("k.pem"), None),
            config_with(None, None, Some("ca.pem")),
        ] {
            assert!(matches!(
                TlsFiles::from_config(&config),
                Err(TlsError::Usage(_))
            ));
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let files = TlsFiles {
            cert: PathBuf::from("/nonexistent/server.pem"),
            key: PathBuf::from("/nonexistent/server.key"),
            client_ca: None,
        };
        let message = files.load().unwrap_err().to_string();
        assert!(
            message.starts_with(
                "cannot read the TLS certificate (--tls-cert) /nonexistent/server.pem"
            ),
            "{message}"
        );
    }

    #[test]
    fn garbage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let files = TlsFiles {
            cert: garbage.clone(),
            key: garbage.clone(),
            client_ca: None,
        };
        let message = files.load().unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "the TLS certificate (--tls-cert) {} is not usable: no PEM item of the right kind",
                garbage.display()
            )
        );
    }
}
