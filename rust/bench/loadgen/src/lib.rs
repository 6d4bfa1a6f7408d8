//! A closed-loop load generator for the Recommendations service, for `just bench`.
//!
//! `loadgen --target http://HOST:PORT` keeps `--concurrency` calls of
//! `Recommend` in flight over `--connections` HTTP/2 connections: each worker
//! sends its next call as soon as its last one is answered. Calls cycle over
//! the users and categories given; each one must end OK with a non-empty
//! answer, and every other outcome is counted as an error by kind. After
//! `--warmup` seconds it measures for `--duration` seconds and prints one JSON
//! document: calls, errors, requests per second and the latency percentiles of
//! an HDR histogram. With `--server-pid`, it also reads `/proc/PID/stat` of the
//! server (and its own) at the start and the end of the measured window, so the
//! caller can tell the CPU time each side spent on exactly the calls measured.
//!
//! `loadgen probe` waits for a server that is starting: it retries one call
//! (or one HTTP GET) until it succeeds and prints when, as Unix time in
//! nanoseconds, so the caller can tell the time from exec to first answer.

mod cli;
mod load;
mod probe;
mod stats;

pub use cli::{Cli, Command, LoadArgs, ProbeArgs, UserIds};
pub use load::{Report, StatWindow, run};
pub use probe::{ProbeReport, probe};
pub use stats::{Latency, Tally};
