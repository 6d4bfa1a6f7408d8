//! The marketplace's metrics, in the Prometheus text format at `/metrics`:
//! HTTP requests by route template and status, and the calls to the
//! Recommendations service by latency and gRPC code, named as
//! go-grpc-prometheus names a client's (the server names its own the same way).
//!
//! Each marketplace records into its own recorder rather than the
//! process-global one, so that several in one test process keep separate counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::Label;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tonic::Code;

/// HTTP requests answered, by `method`, `route` (the matched template, such
/// as `/category/{slug}`) and `status`.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Time to answer an HTTP request, in seconds, by `method` and `route`.
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
/// Calls to the Recommendations service completed, by `grpc_code` (`OK`,
/// `Unavailable`, ...): the failed ones are those with another code than `OK`.
pub const UPSTREAM_HANDLED: &str = "grpc_client_handled_total";
/// Time of a call to the Recommendations service, in seconds, failed calls included.
pub const UPSTREAM_DURATION: &str = "grpc_client_handling_seconds";

/// The `route` of a request that matched no route: one value, so that probes
/// of random paths cannot grow the metrics without bound.
const UNMATCHED_ROUTE: &str = "unmatched";
/// Bucket bounds in seconds: Prometheus' defaults, as the server uses.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// The media type of the Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A gRPC method of the Recommendations service, as the metrics label it.
#[derive(Debug, Clone, Copy)]
pub struct GrpcMethod {
    /// `grpc_service`: the service name in the contract.
    pub service: &'static str,
    /// `grpc_method`: the method name.
    pub method: &'static str,
}

/// The one method the marketplace calls.
pub const RECOMMEND: GrpcMethod = GrpcMethod {
    service: "Recommendations",
    method: "Recommend",
};

/// One marketplace's metrics. Cloning is cheap: clones record into the same
/// recorder.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty set of metrics, the latencies in histogram buckets.
    #[must_use]
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let metrics = Self {
            recorder: Arc::new(recorder),
        };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        metrics::with_local_recorder(&*self.recorder, || {
            metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered.");
            metrics::describe_histogram!(
                HTTP_DURATION,
                metrics::Unit::Seconds,
                "Time to answer an HTTP request."
            );
            metrics::describe_counter!(
                UPSTREAM_HANDLED,
                "Calls to the Recommendations service completed, by gRPC code."
            );
            metrics::describe_histogram!(
                UPSTREAM_DURATION,
                metrics::Unit::Seconds,
                "Time of a call to the Recommendations service, until its answer or failure."
            );
        });
    }

    /// An HTTP request to `route` was answered with `status` after `elapsed`.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let (method, route) = (method.to_owned(), route.to_owned());
        metrics::with_local_recorder(&*self.recorder, || {
            metrics::histogram!(HTTP_DURATION, "method" => method.clone(), "route" => route.clone())
                .record(elapsed);
            metrics::counter!(
                HTTP_REQUESTS,
                "method" => method,
                "route" => route,
                "status" => status.to_string()
            )
            .increment(1);
        });
    }

    /// A call to `method` of the Recommendations service ended with `code` after `elapsed`.
    pub fn upstream_call(&self, method: GrpcMethod, code: Code, elapsed: Duration) {
        let labels = [
            ("grpc_service", method.service),
            ("grpc_method", method.method),
            ("grpc_type", "unary"),
        ];
        metrics::with_local_recorder(&*self.recorder, || {
            metrics::histogram!(UPSTREAM_DURATION, &labels).record(elapsed);
            let mut labels: Vec<Label> = labels.iter().map(Label::from).collect();
            labels.push(Label::new("grpc_code", code_name(code)));
            metrics::counter!(UPSTREAM_HANDLED, labels).increment(1);
        });
    }

    /// The metrics in the Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }

    /// Folds histogram samples into their buckets every few seconds until
    /// dropped: without scrapes they would pile up in memory.
    pub fn keep_up(&self) -> impl Future<Output = ()> + Send + 'static {
        let handle = self.recorder.handle();
        async move {
            let mut ticks = tokio::time::interval(UPKEEP_EVERY);
            loop {
                ticks.tick().await;
                handle.run_upkeep();
            }
        }
    }
}

/// `/metrics`: every metric, in the Prometheus text format.
pub async fn render(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

/// Middleware counting and timing every request by its route template. It
/// must be added with `Router::layer`, which runs it after routing, per route.
pub async fn track_http(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.http_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The code's name as go-grpc-prometheus spells the `grpc_code` label (`OK`,
/// `Unavailable`, ...): tonic's names, but for `OK` and Go's `Canceled`.
fn code_name(code: Code) -> String {
    match code {
        Code::Ok => "OK".to_owned(),
        Code::Cancelled => "Canceled".to_owned(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_calls_are_counted_by_code_with_their_latency() {
        let metrics = Metrics::new();
        metrics.upstream_call(RECOMMEND, Code::Ok, Duration::from_millis(3));
        metrics.upstream_call(RECOMMEND, Code::Unavailable, Duration::from_millis(1));
        let text = metrics.render();
        let labels = r#"grpc_service="Recommendations",grpc_method="Recommend",grpc_type="unary""#;
        for code in ["OK", "Unavailable"] {
            let line = format!(r#"grpc_client_handled_total{{{labels},grpc_code="{code}"}} 1"#);
            assert!(text.contains(&line), "{text}");
        }
        assert!(
            text.contains(&format!("grpc_client_handling_seconds_count{{{labels}}} 2")),
            "{text}"
        );
        assert!(
            text.contains("grpc_client_handling_seconds_bucket{"),
            "{text}"
        );
    }

    #[test]
    fn code_names_are_go_grpc_prometheus_ones() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Cancelled), "Canceled");
        assert_eq!(code_name(Code::DeadlineExceeded), "DeadlineExceeded");
    }

    #[test]
    fn separate_marketplaces_count_separately() {
        let (one, other) = (Metrics::new(), Metrics::new());
        one.http_request("GET", "/", 200, Duration::from_millis(1));
        assert!(one.render().contains("http_requests_total{"));
        assert!(!other.render().contains("http_requests_total{"));
    }
}
