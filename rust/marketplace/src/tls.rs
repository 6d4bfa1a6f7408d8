//! TLS to the Recommendations service: which roots to trust and which client
//! certificate to present, read from PEM files at start-up so that a missing
//! or broken file stops the marketplace instead of failing every page.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// The PEM files and names that configure TLS to the Recommendations service.
/// All empty means the service's own defaults: plain HTTP/2 for `http://`,
/// TLS trusting the webpki roots for `https://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates (PEM) to trust instead of the webpki roots.
    pub ca: Option<PathBuf>,
    /// The certificate chain (PEM) to present to the service, for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// The name the service's certificate must carry, when it is not the URL's host.
    pub server_name: Option<String>,
}

/// Why TLS to the Recommendations service cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the {what} {}: {source}", path.display())]
    Read {
        /// Which file it is, in words.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A client certificate without its key, or a key without its certificate.
    #[error("a client certificate and its key go together: give both or neither")]
    IncompleteIdentity,
    /// The files were read but TLS rejects them (not PEM, key not matching, ...).
    #[error("cannot set up TLS to the Recommendations service: {0}")]
    Invalid(String),
}

impl TlsFiles {
    /// Nothing is configured: the URL's scheme alone decides.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Reads the files into `endpoint`'s TLS settings. Without a CA file the
    /// webpki roots are trusted, as for any public `https://` service.
    pub fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, TlsError> {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca {
            Some(path) => config.ca_certificate(Certificate::from_pem(read("CA file", path)?)),
            None => config.with_webpki_roots(),
        };
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(
                    read("client certificate", cert)?,
                    read("client key", key)?,
                ));
            }
            (None, None) => {}
            _ => return Err(TlsError::IncompleteIdentity),
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        // tonic parses the PEM here, so bad contents surface at start-up too.
        endpoint
            .tls_config(config)
            .map_err(|error| TlsError::Invalid(service_kit::error_chain(&error)))
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint::from_static("https://localhost:50051")
    }

    #[test]
    fn no_files_is_tls_with_the_webpki_roots() {
        let files = TlsFiles::default();
        assert!(files.is_empty());
        files.apply(endpoint()).unwrap();
    }

    #[test]
    fn a_missing_file_is_named() {
        let files = TlsFiles {
            ca: Some("/nowhere/ca.pem".into()),
            ..TlsFiles::default()
        };
        let error = files.apply(endpoint()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read the CA file /nowhere/ca.pem: "),
            "{error}"
        );
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, "").unwrap();
        let files = TlsFiles {
            client_cert: Some(cert),
            ..TlsFiles::default()
        };
        assert!(matches!(
            files.apply(endpoint()),
            Err(TlsError::IncompleteIdentity)
        ));
        let files = TlsFiles {
            client_key: Some(dir.path().join("key.pem")),
            ..TlsFiles::default()
        };
        assert!(matches!(
            files.apply(endpoint()),
            Err(TlsError::IncompleteIdentity)
        ));
    }

    #[test]
    fn a_file_that_is_not_pem_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("client.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let files = TlsFiles {
            client_cert: Some(cert),
            client_key: Some(key),
            ..TlsFiles::default()
        };
        let error = files.apply(endpoint()).unwrap_err();
        assert!(matches!(error, TlsError::Invalid(_)), "{error}");
    }
}
