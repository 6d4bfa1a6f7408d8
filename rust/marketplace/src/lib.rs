//! The bookstore's web marketplace: configuration, start-up, the
//! Recommendations client and the pages. `main.rs` only wires these together,
//! so the tests drive the same application the binary runs.
//!
//! The modules depend on one another in one direction only: `selection`,
//! `shelves`, `tls`, `telemetry` and `request_id` use no other module;
//! `config` and `recommendations` use `tls`, `recommendations` also
//! `telemetry` and `discovery` (balancing over every address of a name,
//! which uses no other module); `pages` renders with `selection` and
//! `shelves`; `error` turns failures into pages; `grpc_web` serves the
//! contract over gRPC-Web by forwarding to `recommendations`; `routes` wires them all
//! into the router that `startup` serves. `cli` adds the `healthcheck`
//! subcommand to `config`.

#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod discovery;
pub mod error;
pub mod grpc_web;
pub mod healthcheck;
pub mod pages;
pub mod recommendations;
pub mod request_id;
pub mod routes;
pub mod selection;
pub mod shelves;
/// Binding the listener and serving the router until shutdown.
pub mod startup;
pub mod telemetry;
pub mod tls;

pub use cli::{Cli, Command};
pub use config::Config;
pub use error::PageError;
pub use recommendations::Recommendations;
pub use routes::{AppState, router};
pub use startup::{Application, StartupError};
pub use tls::TlsFiles;
