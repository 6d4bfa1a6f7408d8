//! Integration tests: the real server in-process on port 0, called over a real
//! socket with the generated tonic client. One test binary for all modules.

mod faults;
mod grpc_web;
mod hardening;
mod helpers;
mod lifecycle;
mod recommend;
mod reflection_and_health;
mod tls;
