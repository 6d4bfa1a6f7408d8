//! The marketplace's metrics, in the Prometheus text format at `/metrics`:
//! HTTP requests by route template and status, and the calls to the
//! Recommendations service by latency and gRPC code, named as
//! go-grpc-prometheus names a client's (the server names its own the same way).
//!
//! Each marketplace records into its own recorder rather than the
//! process-global one, so that several in one test process keep separate counts.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram, Label};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tonic::Code;
use tower::{Layer, Service};

/// HTTP requests answered, by `method` (`GET`, ..., or `_OTHER`), `route`
/// (the matched template, such as `/category/{slug}`) and `status`.
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
/// The `method` of a request with a method outside the standard ones, as
/// OpenTelemetry's `http.request.method` names it: one value, so that clients
/// inventing methods cannot grow the metrics without bound.
const OTHER_METHOD: &str = "_OTHER";
/// Bucket bounds in seconds: Prometheus' defaults, as the server uses.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
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
    /// The handles of every series recorded so far, by their labels: looking
    /// one up costs less than registering it again with the recorder.
    http: Arc<Handles<(&'static str, String, u16)>>,
    upstream: Arc<Handles<(&'static str, &'static str, Code)>>,
}

/// The duration histogram and the count of one series, by their labels.
struct Handles<K>(Mutex<HashMap<K, (Histogram, Counter)>>);

impl<K: Eq + Hash> Handles<K> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// The handles of `key`, registered with `register` the first time.
    fn get(&self, key: K, register: impl FnOnce() -> (Histogram, Counter)) -> (Histogram, Counter) {
        // A panic while holding the lock leaves the map whole.
        let mut handles = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        handles.entry(key).or_insert_with(register).clone()
    }
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
            http: Arc::new(Handles::new()),
            upstream: Arc::new(Handles::new()),
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
    pub fn http_request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let key = (method, route.to_owned(), status);
        let (histogram, counter) = self.http.get(key, || {
            let route = route.to_owned();
            metrics::with_local_recorder(&*self.recorder, || {
                (
                    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route.clone()),
                    metrics::counter!(
                        HTTP_REQUESTS,
                        "method" => method,
                        "route" => route,
                        "status" => status.to_string()
                    ),
                )
            })
        });
        histogram.record(elapsed);
        counter.increment(1);
    }

    /// A call to `method` of the Recommendations service ended with `code` after `elapsed`.
    pub fn upstream_call(&self, method: GrpcMethod, code: Code, elapsed: Duration) {
        let key = (method.service, method.method, code);
        let (histogram, counter) = self.upstream.get(key, || {
            let labels = [
                ("grpc_service", method.service),
                ("grpc_method", method.method),
                ("grpc_type", "unary"),
            ];
            metrics::with_local_recorder(&*self.recorder, || {
                let histogram = metrics::histogram!(UPSTREAM_DURATION, &labels);
                let mut labels: Vec<Label> = labels.iter().map(Label::from).collect();
                labels.push(Label::new("grpc_code", code_name(code)));
                (histogram, metrics::counter!(UPSTREAM_HANDLED, labels))
            })
        });
        histogram.record(elapsed);
        counter.increment(1);
    }

    /// The metrics in the Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }

    /// Keeps the histograms drained until dropped (see
    /// [`service_kit::keep_metrics_up`]): without scrapes their samples would
    /// pile up in memory.
    pub fn keep_up(&self) -> impl Future<Output = ()> + Send + 'static {
        service_kit::keep_metrics_up(self.recorder.handle())
    }
}

/// `/metrics`: every metric, in the Prometheus text format.
pub async fn render(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

/// Counts and times every request by its route template. It must be added
/// with `Router::layer`, which runs it after routing, per route. A layer of
/// its own rather than `axum::middleware::from_fn`, which boxes the rest of
/// the route again for every request.
#[derive(Debug, Clone)]
pub struct TrackHttpLayer {
    metrics: Metrics,
}

impl TrackHttpLayer {
    /// Records into `metrics`.
    #[must_use]
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for TrackHttpLayer {
    type Service = TrackHttp<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackHttp {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`TrackHttpLayer`] makes.
#[derive(Debug, Clone)]
pub struct TrackHttp<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> Service<Request> for TrackHttp<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            metrics.http_request(
                &method,
                route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str),
                response.status().as_u16(),
                started.elapsed(),
            );
            Ok(response)
        })
    }
}

/// The `method` label of `method`: its name for the standard methods, those
/// `Method` has constants for, and [`OTHER_METHOD`] for any other.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => OTHER_METHOD,
    }
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
    fn requests_add_up_in_their_series() {
        let metrics = Metrics::new();
        for status in [200, 200, 404] {
            metrics.http_request(&Method::GET, "/", status, Duration::from_millis(1));
        }
        metrics.http_request(&Method::POST, "/", 200, Duration::from_millis(1));
        let text = metrics.render();
        for line in [
            r#"http_requests_total{method="GET",route="/",status="200"} 2"#,
            r#"http_requests_total{method="GET",route="/",status="404"} 1"#,
            r#"http_requests_total{method="POST",route="/",status="200"} 1"#,
            r#"http_request_duration_seconds_count{method="GET",route="/"} 3"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn invented_methods_share_one_series() {
        let metrics = Metrics::new();
        let invented = ["FOO1", "FOO2", "FOO3", "get"];
        for name in invented {
            let method = Method::from_bytes(name.as_bytes()).expect("a valid method token");
            metrics.http_request(&method, "/", 405, Duration::from_millis(1));
        }
        metrics.http_request(&Method::PATCH, "/", 405, Duration::from_millis(1));
        let text = metrics.render();
        for line in [
            r#"http_requests_total{method="_OTHER",route="/",status="405"} 4"#,
            r#"http_requests_total{method="PATCH",route="/",status="405"} 1"#,
            r#"http_request_duration_seconds_count{method="_OTHER",route="/"} 4"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        for name in invented {
            let label = format!(r#"method="{name}""#);
            assert!(!text.contains(&label), "{label} in\n{text}");
        }
    }

    #[test]
    fn separate_marketplaces_count_separately() {
        let (one, other) = (Metrics::new(), Metrics::new());
        one.http_request(&Method::GET, "/", 200, Duration::from_millis(1));
        assert!(one.render().contains("http_requests_total{"));
        assert!(!other.render().contains("http_requests_total{"));
    }
}
