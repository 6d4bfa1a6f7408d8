//! The command line and environment of the marketplace binary.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
/// How log lines are written: plain text or one JSON object per line.
pub use service_kit::LogFormat;

use crate::tls::TlsFiles;

/// The port the notes' Recommendations service listens on.
const RECOMMENDATIONS_PORT: u16 = 50051;

/// The online bookstore's web marketplace.
///
/// Serves pages of books picked for a reader by the Recommendations gRPC
/// service: `/` (mystery, as in the notes), `/category/mystery`,
/// `/category/science-fiction` and `/category/self-help`, each taking
/// `?user=<reader id>` (default 1, or the `user` cookie) and `?max=<1..=20>`
/// (default 3). `/live` asks the service from the browser: the page calls
/// `POST /Recommendations/Recommend` over gRPC-Web, which the marketplace
/// forwards to the service. `/healthz` answers `ok` while the marketplace
/// itself runs, and `/metrics` gives its metrics in the Prometheus text
/// format. Every request has an id (its `x-request-id` header, or a new
/// UUID): it is logged, returned in the `x-request-id` response header and
/// passed on to the service.
/// Log verbosity follows `RUST_LOG` (for example `RUST_LOG=debug`; default `info`).
#[derive(Debug, Clone, Parser)]
#[command(name = "marketplace", version)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the chosen one is logged).
    #[arg(long, env = "MARKETPLACE_LISTEN", default_value = "0.0.0.0:5000")]
    pub listen: SocketAddr,

    /// URL of the Recommendations service, for example `http://localhost:50051`,
    /// or `https://recommendations.example:50051` for TLS.
    /// `dns:///HOST:PORT` balances calls over every address HOST resolves to
    /// (a Kubernetes headless Service), resolving it again every
    /// `--recommendations-resolve-interval-ms`; TLS is then on when any
    /// `--recommendations-ca`, `-client-cert` or `-tls-name` is given.
    /// Without it, `http://<recommendations-host>:50051` is used, as in the notes.
    #[arg(long, env = "RECOMMENDATIONS_URL", value_name = "URL")]
    pub recommendations_url: Option<String>,

    /// Host of the Recommendations service, used when no URL is given.
    #[arg(
        long,
        env = "RECOMMENDATIONS_HOST",
        value_name = "HOST",
        default_value = "localhost"
    )]
    pub recommendations_host: String,

    /// Longest wait for one answer of the Recommendations service, connecting
    /// included, in milliseconds; past it the page says the service is unavailable.
    #[arg(
        long,
        env = "RECOMMENDATIONS_DEADLINE_MS",
        value_name = "MILLISECONDS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(1..=600_000)
    )]
    pub deadline_ms: u64,

    /// With a `dns:///` URL, how often its host is resolved again (and its
    /// addresses checked), in milliseconds: new addresses get calls, and
    /// vanished or unreachable ones stop getting them, within about this long.
    #[arg(
        long,
        env = "RECOMMENDATIONS_RESOLVE_INTERVAL_MS",
        value_name = "MILLISECONDS",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(10..=3_600_000)
    )]
    pub recommendations_resolve_interval_ms: u64,

    /// CA certificates (PEM) to trust for an `https://` Recommendations URL,
    /// instead of the webpki roots.
    #[arg(long, env = "RECOMMENDATIONS_CA", value_name = "PATH")]
    pub recommendations_ca: Option<PathBuf>,

    /// Client certificate chain (PEM) to present to the Recommendations
    /// service (mutual TLS); needs `--recommendations-client-key`.
    #[arg(
        long,
        env = "RECOMMENDATIONS_CLIENT_CERT",
        value_name = "PATH",
        requires = "recommendations_client_key"
    )]
    pub recommendations_client_cert: Option<PathBuf>,

    /// Private key (PEM) of the client certificate; needs `--recommendations-client-cert`.
    #[arg(
        long,
        env = "RECOMMENDATIONS_CLIENT_KEY",
        value_name = "PATH",
        requires = "recommendations_client_cert"
    )]
    pub recommendations_client_key: Option<PathBuf>,

    /// Name the Recommendations service's certificate must carry, when it
    /// is not the URL's host (for example when connecting by IP address).
    #[arg(long, env = "RECOMMENDATIONS_TLS_NAME", value_name = "NAME")]
    pub recommendations_tls_name: Option<String>,

    /// Log line format.
    #[arg(long, env = "MARKETPLACE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Threads that run the marketplace's tasks; by default, one per core this
    /// process may use (CPU affinity and cgroup quotas count). With one,
    /// tokio's current-thread scheduler runs everything on the main thread.
    #[arg(long, env = "MARKETPLACE_WORKER_THREADS", value_name = "N")]
    pub worker_threads: Option<NonZeroUsize>,
}

impl Config {
    /// A configuration for tests and embedding: the given listening address
    /// and Recommendations URL, the default deadline, text logs.
    #[must_use]
    pub fn new(listen: SocketAddr, recommendations_url: impl Into<String>) -> Self {
        Self {
            listen,
            recommendations_url: Some(recommendations_url.into()),
            recommendations_host: "localhost".to_owned(),
            deadline_ms: 2000,
            recommendations_resolve_interval_ms: 5000,
            recommendations_ca: None,
            recommendations_client_cert: None,
            recommendations_client_key: None,
            recommendations_tls_name: None,
            log_format: LogFormat::Text,
            worker_threads: None,
        }
    }

    /// The same configuration with another per-call deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline_ms = u64::try_from(deadline.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self
    }

    /// The same configuration with another resolve interval for `dns:///` URLs.
    #[must_use]
    pub fn with_resolve_interval(mut self, interval: Duration) -> Self {
        self.recommendations_resolve_interval_ms = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self
    }

    /// How often a `dns:///` URL's host is resolved again.
    #[must_use]
    pub fn resolve_interval(&self) -> Duration {
        Duration::from_millis(self.recommendations_resolve_interval_ms)
    }

    /// Where the Recommendations service is: the URL if given, otherwise
    /// `http://{host}:50051` as the notes' Flask app builds it.
    #[must_use]
    pub fn recommendations_url(&self) -> String {
        match &self.recommendations_url {
            Some(url) => url.clone(),
            None => format!(
                "http://{}:{RECOMMENDATIONS_PORT}",
                self.recommendations_host
            ),
        }
    }

    /// The same configuration with TLS to the Recommendations service set by `tls`.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsFiles) -> Self {
        let TlsFiles {
            ca,
            client_cert,
            client_key,
            server_name,
        } = tls;
        self.recommendations_ca = ca;
        self.recommendations_client_cert = client_cert;
        self.recommendations_client_key = client_key;
        self.recommendations_tls_name = server_name;
        self
    }

    /// The TLS files and name for the Recommendations service (all empty for plain HTTP/2).
    #[must_use]
    pub fn tls(&self) -> TlsFiles {
        TlsFiles {
            ca: self.recommendations_ca.clone(),
            client_cert: self.recommendations_client_cert.clone(),
            client_key: self.recommendations_client_key.clone(),
            server_name: self.recommendations_tls_name.clone(),
        }
    }

    /// The per-call deadline.
    #[must_use]
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_notes() {
        let config = Config::try_parse_from(["marketplace"]).unwrap();
        assert_eq!(config.listen, "0.0.0.0:5000".parse().unwrap());
        assert_eq!(config.recommendations_url(), "http://localhost:50051");
        assert_eq!(config.deadline(), Duration::from_secs(2));
        assert_eq!(config.resolve_interval(), Duration::from_secs(5));
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.tls().is_empty());
    }

    #[test]
    fn tls_flags_name_the_files() {
        let config = Config::try_parse_from([
            "marketplace",
            "--recommendations-url",
            "https://localhost:50051",
            "--recommendations-ca",
            "ca.pem",
            "--recommendations-client-cert",
            "client.pem",
            "--recommendations-client-key",
            "client.key",
            "--recommendations-tls-name",
            "recommendations",
        ])
        .unwrap();
        assert_eq!(
            config.tls(),
            TlsFiles {
                ca: Some("ca.pem".into()),
                client_cert: Some("client.pem".into()),
                client_key: Some("client.key".into()),
                server_name: Some("recommendations".to_owned()),
            }
        );
    }

    #[test]
    fn a_client_certificate_without_its_key_is_a_usage_error() {
        for flag in [
            "--recommendations-client-cert",
            "--recommendations-client-key",
        ] {
            let error = Config::try_parse_from(["marketplace", flag, "file.pem"]).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{error}"
            );
        }
    }

    #[test]
    fn with_tls_round_trips() {
        let tls = TlsFiles {
            ca: Some("ca.pem".into()),
            ..TlsFiles::default()
        };
        let config = Config::new("127.0.0.1:0".parse().unwrap(), "https://localhost:1")
            .with_tls(tls.clone());
        assert_eq!(config.tls(), tls);
    }

    #[test]
    fn the_host_alone_builds_the_url_like_the_notes() {
        let config =
            Config::try_parse_from(["marketplace", "--recommendations-host", "recommendations"])
                .unwrap();
        assert_eq!(config.recommendations_url(), "http://recommendations:50051");
    }

    #[test]
    fn a_url_wins_over_the_host() {
        let config = Config::try_parse_from([
            "marketplace",
            "--recommendations-host",
            "ignored",
            "--recommendations-url",
            "http://127.0.0.1:6000",
        ])
        .unwrap();
        assert_eq!(config.recommendations_url(), "http://127.0.0.1:6000");
    }

    #[test]
    fn flags_override_defaults() {
        let config = Config::try_parse_from([
            "marketplace",
            "--listen",
            "127.0.0.1:0",
            "--deadline-ms",
            "250",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.deadline(), Duration::from_millis(250));
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn a_dns_url_takes_a_resolve_interval() {
        let config = Config::try_parse_from([
            "marketplace",
            "--recommendations-url",
            "dns:///recommendations:50051",
            "--recommendations-resolve-interval-ms",
            "250",
        ])
        .unwrap();
        assert_eq!(config.recommendations_url(), "dns:///recommendations:50051");
        assert_eq!(config.resolve_interval(), Duration::from_millis(250));
        assert!(
            Config::try_parse_from(["marketplace", "--recommendations-resolve-interval-ms", "0"])
                .is_err()
        );
    }

    #[test]
    fn a_zero_deadline_is_refused() {
        assert!(Config::try_parse_from(["marketplace", "--deadline-ms", "0"]).is_err());
    }

    #[test]
    fn a_bad_address_is_refused() {
        assert!(Config::try_parse_from(["marketplace", "--listen", "localhost"]).is_err());
    }
}
