use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_proto::{BookCategory, RecommendationRequest, RecommendationResponse};
use serde::Serialize;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use crate::cli::LoadArgs;
use crate::stats::{Latency, Tally};

const WARMUP: u8 = 0;
const MEASURING: u8 = 1;
const DONE: u8 = 2;

/// What `loadgen` prints after a load run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The server called.
    pub target: String,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// HTTP/2 connections used.
    pub connections: usize,
    /// `max_results` of every call.
    pub max_results: i32,
    /// The measured window as it lasted, in seconds.
    pub seconds: f64,
    /// Successful calls in the window.
    pub calls: u64,
    /// Failed calls in the window.
    pub errors: u64,
    /// Failed calls in the window by kind (a gRPC code, or `empty answer`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Calls of the warm-up.
    pub warmup_calls: u64,
    /// Failed calls of the warm-up by kind.
    pub warmup_errors_by_kind: BTreeMap<String, u64>,
    /// Successful calls per second of the window.
    pub requests_per_second: f64,
    /// Latency of the successful calls of the window.
    pub latency: Latency,
    /// `/proc/PID/stat` of the server at the start and the end of the window, with `--server-pid`.
    pub server_stat: Option<StatWindow>,
    /// `/proc/self/stat` of this load generator at the start and the end of the window.
    pub loadgen_stat: Option<StatWindow>,
}

/// The text of a `/proc/PID/stat` at the start and the end of the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct StatWindow {
    /// Read as the window opened.
    pub start: String,
    /// Read as the window closed.
    pub end: String,
}

/// The calls' mix: call `n` of a run asks for one user and one category.
#[derive(Debug)]
struct Mix {
    user_ids: Vec<i32>,
    categories: Vec<BookCategory>,
    max_results: i32,
    timeout: Duration,
}

impl Mix {
    /// Every category in turn, and the next user once all categories were asked.
    fn request(&self, n: usize) -> tonic::Request<RecommendationRequest> {
        let categories = self.categories.len();
        let user_id = self.user_ids[(n / categories) % self.user_ids.len()];
        let mut request = tonic::Request::new(RecommendationRequest {
            user_id,
            category: self.categories[n % categories].into(),
            max_results: self.max_results,
        });
        request.set_timeout(self.timeout);
        request
    }
}

/// Why an answer does not count as a success, if it does not.
fn failure(
    answer: &Result<tonic::Response<RecommendationResponse>, tonic::Status>,
) -> Option<String> {
    match answer {
        Ok(response) if response.get_ref().recommendations.is_empty() => {
            Some("empty answer".to_owned())
        }
        Ok(_) => None,
        Err(status) => Some(format!("{:?}", status.code())),
    }
}

/// Runs the load described by `args` and reports on it.
pub async fn run(args: &LoadArgs) -> anyhow::Result<Report> {
    let target = args.target.clone().context("--target is required")?;
    anyhow::ensure!(!args.user_ids.0.is_empty(), "--user-ids names no user");
    anyhow::ensure!(
        !args.categories.is_empty(),
        "--categories names no category"
    );
    let concurrency = args.concurrency.get();
    let connections = args.connections.get().min(concurrency);
    let endpoint = Endpoint::from_shared(target.clone())
        .with_context(|| format!("{target:?} is not a URL"))?
        .connect_timeout(Duration::from_secs(5));
    // One `Channel` per HTTP/2 connection; workers take them in turn.
    let mut channels: Vec<Channel> = Vec::with_capacity(connections);
    for _ in 0..connections {
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("could not connect to {target}"))?;
        channels.push(channel);
    }
    let mix = Arc::new(Mix {
        user_ids: args.user_ids.0.clone(),
        categories: args.categories.clone(),
        max_results: args.max_results,
        timeout: Duration::from_millis(args.timeout_ms),
    });
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let client = RecommendationsClient::new(channels[worker % connections].clone());
        workers.spawn(call_in_a_loop(
            client,
            worker,
            concurrency,
            Arc::clone(&mix),
            Arc::clone(&phase),
        ));
    }

    tokio::time::sleep(args.warmup).await;
    let (server_opened, own_opened) = read_stats(args.server_pid)?;
    let started = Instant::now();
    phase.store(MEASURING, Ordering::Relaxed);
    tokio::time::sleep(args.duration).await;
    phase.store(DONE, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let (server_closed, own_closed) = read_stats(args.server_pid)?;

    let mut tally = Tally::new();
    while let Some(worker) = workers.join_next().await {
        tally.merge(&worker.context("a worker panicked")?);
    }
    let server_stat = server_opened
        .zip(server_closed)
        .map(|(start, end)| StatWindow { start, end });
    let loadgen_stat = Some(StatWindow {
        start: own_opened,
        end: own_closed,
    });
    let calls = tally.calls();
    #[allow(clippy::cast_precision_loss, reason = "call counts far below 2^52")]
    let requests_per_second = calls as f64 / seconds;
    Ok(Report {
        target,
        concurrency,
        connections,
        max_results: args.max_results,
        seconds,
        calls,
        errors: tally.errors().values().sum(),
        errors_by_kind: tally.errors().clone(),
        warmup_calls: tally.warmup_calls(),
        warmup_errors_by_kind: tally.warmup_errors().clone(),
        requests_per_second,
        latency: tally.latency(),
        server_stat,
        loadgen_stat,
    })
}

/// One worker of the closed loop: the next call as soon as the last one is answered.
async fn call_in_a_loop(
    mut client: RecommendationsClient<Channel>,
    worker: usize,
    workers: usize,
    mix: Arc<Mix>,
    phase: Arc<AtomicU8>,
) -> Tally {
    let mut tally = Tally::new();
    // Workers interleave: worker w makes calls w, w + workers, w + 2 workers...
    for n in (worker..).step_by(workers) {
        let started = Instant::now();
        let answer = client.recommend(mix.request(n)).await;
        let latency = started.elapsed();
        let outcome = failure(&answer).map_or(Ok(latency), Err);
        // A call counts in the phase it was answered in.
        match phase.load(Ordering::Relaxed) {
            WARMUP => tally.warmup(outcome),
            MEASURING => tally.measured(outcome),
            _ => break,
        }
    }
    tally
}

/// `/proc/PID/stat` of the server (when given) and `/proc/self/stat`.
fn read_stats(server_pid: Option<u32>) -> anyhow::Result<(Option<String>, String)> {
    let server = server_pid
        .map(|pid| {
            let path = format!("/proc/{pid}/stat");
            std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))
        })
        .transpose()?;
    let own =
        std::fs::read_to_string("/proc/self/stat").context("could not read /proc/self/stat")?;
    Ok((server, own))
}

#[cfg(test)]
mod tests {
    use recommendations_proto::BookRecommendation;

    use super::*;

    fn mix(user_ids: Vec<i32>) -> Mix {
        Mix {
            user_ids,
            categories: vec![BookCategory::Mystery, BookCategory::SelfHelp],
            max_results: 3,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn calls_cycle_over_every_category_then_the_next_user() {
        let mix = mix(vec![10, 20]);
        let asked: Vec<(i32, i32)> = (0..5)
            .map(|n| {
                let request = mix.request(n).into_inner();
                (request.user_id, request.category)
            })
            .collect();
        let (mystery, self_help) = (BookCategory::Mystery as i32, BookCategory::SelfHelp as i32);
        assert_eq!(
            asked,
            [
                (10, mystery),
                (10, self_help),
                (20, mystery),
                (20, self_help),
                (10, mystery)
            ]
        );
        assert_eq!(mix.request(0).into_inner().max_results, 3);
    }

    #[test]
    fn only_an_ok_answer_with_books_succeeds() {
        let books = RecommendationResponse {
            recommendations: vec![BookRecommendation {
                id: 1,
                title: "The Maltese Falcon".into(),
            }],
        };
        assert_eq!(failure(&Ok(tonic::Response::new(books))), None);
        assert_eq!(
            failure(&Ok(tonic::Response::new(RecommendationResponse::default()))),
            Some("empty answer".into())
        );
        assert_eq!(
            failure(&Err(tonic::Status::not_found("Category not found"))),
            Some("NotFound".into())
        );
    }
}
