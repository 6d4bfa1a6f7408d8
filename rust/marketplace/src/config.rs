//! The command line and environment of the marketplace binary.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
/// How log lines are written: plain text or one JSON object per line.
pub use service_kit::LogFormat;

/// The port the notes' Recommendations service listens on.
const RECOMMENDATIONS_PORT: u16 = 50051;

/// The online bookstore's web marketplace.
///
/// Serves pages of books picked for a reader by the Recommendations gRPC
/// service: `/` (mystery, as in the notes), `/category/mystery`,
/// `/category/science-fiction` and `/category/self-help`, each taking
/// `?user=<reader id>` (default 1, or the `user` cookie) and `?max=<1..=20>`
/// (default 3). `/healthz` answers `ok` while the marketplace itself runs.
/// Log verbosity follows `RUST_LOG` (for example `RUST_LOG=debug`; default `info`).
#[derive(Debug, Clone, Parser)]
#[command(name = "marketplace", version)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the chosen one is logged).
    #[arg(long, env = "MARKETPLACE_LISTEN", default_value = "0.0.0.0:5000")]
    pub listen: SocketAddr,

    /// URL of the Recommendations service, for example `http://localhost:50051`.
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

    /// Log line format.
    #[arg(long, env = "MARKETPLACE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
            log_format: LogFormat::Text,
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
        assert_eq!(config.log_format, LogFormat::Text);
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
    fn a_zero_deadline_is_refused() {
        assert!(Config::try_parse_from(["marketplace", "--deadline-ms", "0"]).is_err());
    }

    #[test]
    fn a_bad_address_is_refused() {
        assert!(Config::try_parse_from(["marketplace", "--listen", "localhost"]).is_err());
    }
}
