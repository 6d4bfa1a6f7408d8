use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use tokio::net::TcpListener;
use tonic::Code;

/// The served methods, with the labels go-grpc-prometheus gives them. Any
/// other path is counted as `unknown`, so that clients cannot grow the label
/// sets (and the server's memory) by calling made-up methods.
const SERVED_METHODS: [(&str, Method); 5] = [
    (
        "/Recommendations/Recommend",
        Method::new("Recommendations", "Recommend", "unary"),
    ),
    (
        "/grpc.health.v1.Health/Check",
        Method::new("grpc.health.v1.Health", "Check", "unary"),
    ),
    (
        "/grpc.health.v1.Health/Watch",
        Method::new("grpc.health.v1.Health", "Watch", "server_stream"),
    ),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Method::new(
            "grpc.reflection.v1.ServerReflection",
            "ServerReflectionInfo",
            "bidi_stream",
        ),
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Method::new(
            "grpc.reflection.v1alpha.ServerReflection",
            "ServerReflectionInfo",
            "bidi_stream",
        ),
    ),
];

/// Latency buckets in seconds: Prometheus' defaults, as go-grpc-prometheus uses.
const HANDLING_SECONDS_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A gRPC method as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// `grpc_service`: the fully qualified service name.
    pub service: &'static str,
    /// `grpc_method`: the method name.
    pub method: &'static str,
    /// `grpc_type`: `unary`, `server_stream`, `client_stream` or `bidi_stream`.
    pub kind: &'static str,
    /// Where its series are kept: its place in `SERVED_METHODS`, or after them
    /// for `unknown`.
    slot: usize,
}

impl Method {
    const UNKNOWN: Self = Self {
        slot: SERVED_METHODS.len(),
        ..Self::new("unknown", "unknown", "unknown")
    };

    const fn new(service: &'static str, method: &'static str, kind: &'static str) -> Self {
        Self {
            service,
            method,
            kind,
            slot: 0,
        }
    }

    /// The method a request path names, or `unknown` for any path not served.
    #[must_use]
    pub fn of_path(path: &str) -> Self {
        SERVED_METHODS
            .iter()
            .position(|(served, _)| *served == path)
            .map_or(Self::UNKNOWN, |slot| Self {
                slot,
                ..SERVED_METHODS[slot].1
            })
    }

    /// The path of a served method; `None` for `unknown`.
    #[must_use]
    pub fn path(self) -> Option<&'static str> {
        SERVED_METHODS.get(self.slot).map(|(path, _)| *path)
    }

    fn labels(self) -> [(&'static str, &'static str); 3] {
        [
            ("grpc_service", self.service),
            ("grpc_method", self.method),
            ("grpc_type", self.kind),
        ]
    }
}

/// The server's Prometheus metrics, named as go-grpc-prometheus names them.
///
/// The recorder is this server's own rather than the process-global one, so
/// that several servers in one test process keep separate counts. Each
/// series' handle is looked up once, on its first use, and kept: a call then
/// costs a few atomic additions rather than building and hashing label sets.
#[derive(Debug, Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    series: Arc<[MethodSeries; SERVED_METHODS.len() + 1]>,
}

/// The series of one method (or of `unknown`), made on first use so that
/// `/metrics` lists only what has happened.
#[derive(Debug, Default)]
struct MethodSeries {
    started: OnceLock<Counter>,
    in_flight: OnceLock<Gauge>,
    handling_seconds: OnceLock<Histogram>,
    /// By code, in the order of its number.
    handled: [OnceLock<Counter>; CODES],
}

/// gRPC's status codes, 0 to 16.
const CODES: usize = 17;

impl Metrics {
    /// An empty set of metrics, with the handling-time histogram's buckets.
    #[must_use]
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("grpc_server_handling_seconds".to_owned()),
                &HANDLING_SECONDS_BUCKETS,
            )
            .expect("the bucket list is not empty")
            .build_recorder();
        let metrics = Self {
            recorder: Arc::new(recorder),
            series: Arc::new(Default::default()),
        };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        metrics::with_local_recorder(&*self.recorder, || {
            metrics::describe_counter!("grpc_server_started_total", "RPCs started on the server.");
            metrics::describe_counter!(
                "grpc_server_handled_total",
                "RPCs completed on the server, regardless of success or failure."
            );
            metrics::describe_histogram!(
                "grpc_server_handling_seconds",
                metrics::Unit::Seconds,
                "Response latency of RPCs handled by the server, until the last byte or cancellation."
            );
            metrics::describe_gauge!(
                "grpc_server_in_flight_calls",
                "RPCs started and not yet completed."
            );
            metrics::describe_counter!(
                "grpc_server_shed_total",
                "RPCs refused at once with UNAVAILABLE because --max-concurrent-calls were running."
            );
        });
    }

    /// A call to `method` has started.
    pub fn started(&self, method: Method) {
        let series = &self.series[method.slot];
        self.handle(&series.started, || {
            metrics::counter!("grpc_server_started_total", &method.labels())
        })
        .increment(1);
        self.in_flight(method).increment(1.0);
    }

    /// A call to `method` has ended with `code` after `elapsed`.
    pub fn handled(&self, method: Method, code: Code, elapsed: Duration) {
        let series = &self.series[method.slot];
        self.in_flight(method).decrement(1.0);
        self.handle(&series.handling_seconds, || {
            metrics::histogram!("grpc_server_handling_seconds", &method.labels())
        })
        .record(elapsed.as_secs_f64());
        let number = usize::try_from(i32::from(code)).expect("gRPC codes are 0 to 16");
        self.handle(&series.handled[number], || {
            let [service, name, kind] = method.labels();
            let code = ("grpc_code", code_name(code));
            metrics::counter!("grpc_server_handled_total", &[service, name, kind, code])
        })
        .increment(1);
    }

    fn in_flight(&self, method: Method) -> &Gauge {
        self.handle(&self.series[method.slot].in_flight, || {
            metrics::gauge!("grpc_server_in_flight_calls", &method.labels())
        })
    }

    /// The handle in `slot`, registered with this server's recorder by
    /// `register` the first time.
    fn handle<'a, T>(&self, slot: &'a OnceLock<T>, register: impl FnOnce() -> T) -> &'a T {
        slot.get_or_init(|| metrics::with_local_recorder(&*self.recorder, register))
    }

    /// A call to `service` was refused by load shedding.
    pub fn shed(&self, service: &'static str) {
        metrics::with_local_recorder(&*self.recorder, || {
            metrics::counter!("grpc_server_shed_total", "grpc_service" => service).increment(1);
        });
    }

    /// The metrics in the Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }

    /// Serves `GET /metrics` on `listener` until `shutdown` completes, keeping
    /// the histograms drained in between scrapes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let upkeep = tokio::spawn(service_kit::keep_metrics_up(self.recorder.handle()));
        let app = Router::new().route("/metrics", get(move || async move { self.render() }));
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        upkeep.abort();
        served
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The code as go-grpc-prometheus' `grpc_code` label names it (Go's
/// `codes.Code.String()`: `OK`, `NotFound`, `Canceled`, ...).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_paths_get_their_labels_and_others_are_unknown() {
        assert_eq!(
            Method::of_path("/Recommendations/Recommend"),
            Method::new("Recommendations", "Recommend", "unary")
        );
        assert_eq!(Method::of_path("/Recommendations/Nope"), Method::UNKNOWN);
        assert_eq!(Method::of_path("/"), Method::UNKNOWN);
    }

    #[test]
    fn calls_are_counted_with_go_grpc_prometheus_labels() {
        let metrics = Metrics::new();
        let method = Method::of_path("/Recommendations/Recommend");
        metrics.started(method);
        metrics.handled(method, Code::NotFound, Duration::from_millis(3));
        let text = metrics.render();
        let labels = r#"grpc_service="Recommendations",grpc_method="Recommend",grpc_type="unary""#;
        assert!(
            text.contains(&format!("grpc_server_started_total{{{labels}}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                r#"grpc_server_handled_total{{{labels},grpc_code="NotFound"}} 1"#
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("grpc_server_in_flight_calls{{{labels}}} 0")),
            "{text}"
        );
        assert!(
            text.contains("grpc_server_handling_seconds_bucket{"),
            "{text}"
        );
    }
}
