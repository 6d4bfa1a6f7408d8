use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
pub use service_kit::LogFormat;

/// The Recommendations gRPC service of the online bookstore.
///
/// Serves `/Recommendations/Recommend` (the notes' contract), the standard
/// `grpc.health.v1.Health` service and server reflection (v1 and v1alpha).
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
}

impl Config {
    /// A configuration for tests and embedding: the given address, the notes' catalogue.
    #[must_use]
    pub fn listening_on(listen: SocketAddr) -> Self {
        Self {
            listen,
            catalog: None,
            log_format: LogFormat::Text,
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
    fn a_bad_address_is_refused() {
        assert!(Config::try_parse_from(["recommendations", "--listen", "localhost"]).is_err());
    }
}
