//! The marketplace over real sockets, against the real Recommendations server
//! running in-process. One test binary, so the helpers compile once.

mod balancing;
mod grpc_web;
mod helpers;
mod pages;
mod resilience;
