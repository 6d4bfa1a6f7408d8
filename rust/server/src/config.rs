use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;

use clap::Parser;
pub use service_kit::LogFormat;

/// The Recommendations gRPC service of the online bookstore.
///
/// Serves `/Recommendations/Recommend` (the notes' contract), the standard
/// `grpc.health.v1.Health` service and server reflection (v1 and v1alpha),
/// over gRPC (HTTP/2) and, on the same port, over gRPC-Web (HTTP/1.1 or
/// HTTP/2) for browsers.
/// Log verbosity follows `RUST_LOG` (for example `RUST_LOG=debug`; default `info`).
#[derive(Debug, Clone, Parser)]
#[command(name = "recommendations", version)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the chosen one is logged).
    #[arg(long, env = "RECOMMENDATIONS_LISTEN", default_value = "[::]:50051")]
    pub listen: SocketAddr,

    /// Catalogue file (JSON, in the format of rust/recommender/catalog/notes.json).
    /// Without it, the notes' nine books are served.
    #[arg(long, env = "RECOMMENDATIONS_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,

    /// Log line format.
    #[arg(long, env = "RECOMMENDATIONS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Threads that run the server's tasks; by default, one per core this
    /// process may use (CPU affinity and cgroup quotas count). With one,
    /// tokio's current-thread scheduler runs everything on the main thread,
    /// which costs the least CPU per call; scale out with more processes.
    #[arg(long, env = "RECOMMENDATIONS_WORKER_THREADS", value_name = "N")]
    pub worker_threads: Option<NonZeroUsize>,

    /// Serve TLS with this certificate chain (PEM); needs --tls-key. Without
    /// it, the server speaks plaintext HTTP/2 (and HTTP/1.1 for gRPC-Web);
    /// with it, TLS offers HTTP/2 only (ALPN h2), which browsers also use for gRPC-Web.
    #[arg(
        long,
        env = "RECOMMENDATIONS_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(
        long,
        env = "RECOMMENDATIONS_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Mutual TLS: accept only clients presenting a certificate signed by a CA
    /// in this file (PEM). Needs --tls-cert and --tls-key.
    #[arg(
        long,
        env = "RECOMMENDATIONS_CLIENT_CA",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub client_ca: Option<PathBuf>,

    /// The most books one call returns: a larger `max_results` is served as this
    /// many (AIP-158 page-size coercion), which bounds the work of every call.
    #[arg(
        long,
        env = "RECOMMENDATIONS_MAX_PAGE",
        value_name = "N",
        default_value_t = DEFAULT_MAX_PAGE,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub max_page: i32,

    /// Recommend calls served at once, over all connections; calls beyond it
    /// are refused at once with UNAVAILABLE rather than queued. Health and
    /// reflection are not limited.
    #[arg(
        long,
        env = "RECOMMENDATIONS_MAX_CONCURRENT_CALLS",
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONCURRENT_CALLS
    )]
    pub max_concurrent_calls: NonZeroUsize,

    /// HTTP/2 streams (calls) one connection may have open at once; clients
    /// wait for a free stream beyond it.
    #[arg(
        long,
        env = "RECOMMENDATIONS_MAX_CONCURRENT_STREAMS",
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONCURRENT_STREAMS
    )]
    pub max_concurrent_streams: NonZeroU32,

    /// Seconds between HTTP/2 pings on an idle connection, to find dead peers.
    #[arg(
        long,
        env = "RECOMMENDATIONS_HTTP2_KEEPALIVE_INTERVAL",
        value_name = "SECONDS",
        default_value_t = DEFAULT_HTTP2_KEEPALIVE_INTERVAL
    )]
    pub http2_keepalive_interval: NonZeroU64,

    /// Seconds to wait for a ping's answer before closing the connection.
    #[arg(
        long,
        env = "RECOMMENDATIONS_HTTP2_KEEPALIVE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = DEFAULT_HTTP2_KEEPALIVE_TIMEOUT
    )]
    pub http2_keepalive_timeout: NonZeroU64,

    /// Serve Prometheus metrics at `http://ADDR/metrics` (off when not given;
    /// port 0 picks a free port, the chosen one is logged as `metrics addr=`).
    #[arg(long, env = "RECOMMENDATIONS_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

/// `--max-page` when not given.
pub const DEFAULT_MAX_PAGE: i32 = 1000;
/// `--max-concurrent-calls` when not given.
pub const DEFAULT_MAX_CONCURRENT_CALLS: NonZeroUsize = NonZeroUsize::new(256).unwrap();
/// `--max-concurrent-streams` when not given (HTTP/2 advises no fewer than 100).
pub const DEFAULT_MAX_CONCURRENT_STREAMS: NonZeroU32 = NonZeroU32::new(100).unwrap();
/// `--http2-keepalive-interval` when not given, in seconds.
pub const DEFAULT_HTTP2_KEEPALIVE_INTERVAL: NonZeroU64 = NonZeroU64::new(60).unwrap();
/// `--http2-keepalive-timeout` when not given, in seconds.
pub const DEFAULT_HTTP2_KEEPALIVE_TIMEOUT: NonZeroU64 = NonZeroU64::new(20).unwrap();

impl Config {
    /// A configuration for tests and embedding: the given address, the notes'
    /// catalogue, plaintext, no metrics, and the default limits.
    #[must_use]
    pub fn listening_on(listen: SocketAddr) -> Self {
        Self {
            listen,
            catalog: None,
            log_format: LogFormat::Text,
            worker_threads: None,
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            max_page: DEFAULT_MAX_PAGE,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            http2_keepalive_interval: DEFAULT_HTTP2_KEEPALIVE_INTERVAL,
            http2_keepalive_timeout: DEFAULT_HTTP2_KEEPALIVE_TIMEOUT,
            metrics_listen: None,
        }
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
        let config = Config::try_parse_from(["recommendations"]).unwrap();
        assert_eq!(config.listen, "[::]:50051".parse().unwrap());
        assert_eq!(config.catalog, None);
    }

    #[test]
    fn flags_override_defaults() {
        let config = Config::try_parse_from([
            "recommendations",
            "--listen",
            "127.0.0.1:0",
            "--catalog",
            "store.json",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.catalog, Some(PathBuf::from("store.json")));
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn hardening_defaults_are_bounded_and_plaintext() {
        let config = Config::try_parse_from(["recommendations"]).unwrap();
        assert_eq!(config.max_page, 1000);
        assert_eq!(config.max_concurrent_calls.get(), 256);
        assert_eq!(config.max_concurrent_streams.get(), 100);
        assert_eq!(config.tls_cert, None);
        assert_eq!(config.metrics_listen, None);
    }

    #[test]
    fn tls_flags_go_together() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(["recommendations"].iter().chain(args))
                .map_err(|error| error.kind())
        };
        let usage = Err(clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(parse(&["--tls-cert", "c.pem"]).map(|_| ()), usage);
        assert_eq!(parse(&["--tls-key", "k.pem"]).map(|_| ()), usage);
        assert_eq!(parse(&["--client-ca", "ca.pem"]).map(|_| ()), usage);
        let mutual = parse(&[
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--client-ca",
            "ca.pem",
        ])
        .unwrap();
        assert_eq!(mutual.client_ca, Some(PathBuf::from("ca.pem")));
    }

    #[test]
    fn limits_must_be_positive() {
        for flag in [
            "--max-page",
            "--max-concurrent-calls",
            "--max-concurrent-streams",
            "--http2-keepalive-interval",
            "--http2-keepalive-timeout",
            "--worker-threads",
        ] {
            assert!(
                Config::try_parse_from(["recommendations", flag, "0"]).is_err(),
                "{flag} 0"
            );
        }
        assert!(Config::try_parse_from(["recommendations", "--max-page", "-5"]).is_err());
    }

    #[test]
    fn a_bad_address_is_refused() {
        assert!(Config::try_parse_from(["recommendations", "--listen", "localhost"]).is_err());
    }
}
