//! The Recommendations gRPC server: configuration, start-up and the
//! service itself. `main.rs` only wires these together, so the integration
//! tests drive the same server the binary runs.

#![warn(missing_docs)]

/// The command line and environment the server reads.
pub mod config;
/// The `Recommendations` service: requests in, the core's answers out.
pub mod service;
/// Building the server and serving until stopped.
pub mod startup;

pub use config::Config;
pub use startup::{Application, StartupError};
