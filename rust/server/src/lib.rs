//! The Recommendations gRPC server: configuration, start-up and the
//! service itself. `main.rs` only wires these together, so the integration
//! tests drive the same server the binary runs.

#![warn(missing_docs)]

/// The command line: serving, or the `healthcheck` subcommand.
pub mod cli;
/// The command line and environment the server reads.
pub mod config;
/// Refusing requests that are not gRPC or gRPC-Web.
pub mod content_type;
/// Answering `DEADLINE_EXCEEDED` when a call's deadline passes.
pub mod deadline;
/// gRPC-Web, translated to gRPC in front of everything else.
pub mod grpc_web;
/// `recommendations healthcheck`: asking a running server's health service.
pub mod healthcheck;
/// Prometheus metrics for the calls, and the admin listener that serves them.
pub mod metrics;
/// Request ids, the access log and the metrics, as one tower layer.
pub mod observe;
/// The `Recommend` method's own handler, with buffers sized for its messages.
pub mod recommend;
/// Every service behind one tower service, the hot one routed directly.
pub mod routing;
/// Serving connections: HTTP/2 and HTTP/1.1, TLS, graceful stop.
pub mod serve;
/// The `Recommendations` service: requests in, the core's answers out.
pub mod service;
/// Load shedding: the server-wide limit on concurrent calls.
pub mod shed;
/// Building the server and serving until stopped.
pub mod startup;
/// TLS and mutual TLS from PEM files.
pub mod tls;

pub use cli::{Cli, Command};
pub use config::Config;
pub use startup::{Application, StartupError};
