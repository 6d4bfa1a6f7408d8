//! The Recommendations gRPC server: configuration, start-up and the
//! service itself. `main.rs` only wires these together, so the integration
//! tests drive the same server the binary runs.

pub mod config;
pub mod service;
pub mod startup;

pub use config::Config;
pub use startup::{Application, ServerError};
