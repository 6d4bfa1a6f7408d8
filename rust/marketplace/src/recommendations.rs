//! The client side of the Recommendations service: one long-lived channel,
//! shared by every page, and a per-call deadline. The channel has one
//! connection, or with a `dns:///HOST:PORT` URL one per address of HOST.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_proto::{
    BookCategory, BookRecommendation, RecommendationRequest, RecommendationResponse,
};
use tonic::metadata::{Ascii, MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::discovery::{self, DNS_PREFIX, Discovery, DnsTarget};
use crate::telemetry::{self, Metrics};
use crate::tls::{TlsError, TlsFiles};

/// The metadata key that carries the page's request id to the service.
static REQUEST_ID_KEY: LazyLock<MetadataKey<Ascii>> =
    LazyLock::new(|| MetadataKey::from_static("x-request-id"));
/// The metadata key of a call's deadline.
static GRPC_TIMEOUT_KEY: LazyLock<MetadataKey<Ascii>> =
    LazyLock::new(|| MetadataKey::from_static("grpc-timeout"));

/// Why no books came back from the Recommendations service.
#[derive(Debug, thiserror::Error)]
pub enum RecommendationsError {
    /// No answer within the deadline (the service is slow or unreachable).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The call failed: a gRPC status from the service, or a transport error
    /// that tonic reports as one (for example `UNAVAILABLE` when nothing listens).
    #[error("the call failed: {}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
}

/// A Recommendations URL that cannot be used: the marketplace refuses to start with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid Recommendations URL {url:?}: {reason}")]
pub struct InvalidUrl {
    url: String,
    reason: String,
}

/// Why the Recommendations channel cannot be set up: the marketplace refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL cannot be used.
    #[error(transparent)]
    Url(#[from] InvalidUrl),
    /// The TLS files cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A handle on the Recommendations service. Cloning is cheap: every clone
/// shares the same channel, so the marketplace holds one connection however
/// many pages it serves.
#[derive(Debug, Clone)]
pub struct Recommendations {
    client: RecommendationsClient<Channel>,
    deadline: Duration,
    /// The `grpc-timeout` of `deadline`, written once for every call.
    grpc_timeout: Option<MetadataValue<Ascii>>,
    metrics: Metrics,
}

impl Recommendations {
    /// A handle on the service at `url` (`http://host:port`, or
    /// `https://host:port` for TLS trusting the webpki roots) with a per-call
    /// `deadline`.
    ///
    /// Nothing is connected yet: the channel connects on the first call and
    /// reconnects by itself after the service went away, so the marketplace
    /// starts and keeps running while the service is down. Must be called
    /// inside a Tokio runtime.
    pub fn connect_lazy(url: &str, deadline: Duration) -> Result<Self, ConnectError> {
        Self::connect_lazy_with_tls(url, deadline, &TlsFiles::default())
    }

    /// As [`connect_lazy`](Self::connect_lazy), with TLS configured by `tls`
    /// (CA, client certificate, server name), which needs an `https://` URL.
    /// The files are read now, so a bad one stops the start.
    pub fn connect_lazy_with_tls(
        url: &str,
        deadline: Duration,
        tls: &TlsFiles,
    ) -> Result<Self, ConnectError> {
        Self::connect_lazy_with(url, deadline, tls, Discovery::default())
    }

    /// As [`connect_lazy_with_tls`](Self::connect_lazy_with_tls), also taking
    /// `dns:///HOST:PORT`: calls are then balanced over every address of
    /// HOST, which `discovery` resolves again and again (see
    /// [`discovery`](crate::discovery)). Such a URL has no scheme to ask for
    /// TLS, so TLS is on when `tls` sets anything; the certificate must then
    /// name HOST, or the server name `tls` gives.
    pub fn connect_lazy_with(
        url: &str,
        deadline: Duration,
        tls: &TlsFiles,
        discovery: Discovery,
    ) -> Result<Self, ConnectError> {
        let channel = match url.strip_prefix(DNS_PREFIX) {
            Some(target) => balanced_channel(url, target, deadline, tls, discovery)?,
            None => single_channel(url, deadline, tls)?,
        };
        Ok(Self {
            client: RecommendationsClient::new(channel),
            deadline,
            grpc_timeout: grpc_timeout(deadline),
            metrics: Metrics::new(),
        })
    }

    /// The same handle, recording its calls' latency and codes in `metrics`
    /// (by default, metrics of its own that nothing shows).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Up to `max_results` books of `category` for `user_id`, within the deadline.
    pub async fn recommend(
        &self,
        user_id: i32,
        category: BookCategory,
        max_results: i32,
    ) -> Result<Vec<BookRecommendation>, RecommendationsError> {
        self.recommend_with_request_id(None, user_id, category, max_results)
            .await
    }

    /// As [`recommend`](Self::recommend), sending `request_id` as the call's
    /// `x-request-id` metadata so that the service logs the page's id. An id
    /// that is not printable ASCII cannot be metadata and is left out.
    pub async fn recommend_with_request_id(
        &self,
        request_id: Option<&str>,
        user_id: i32,
        category: BookCategory,
        max_results: i32,
    ) -> Result<Vec<BookRecommendation>, RecommendationsError> {
        let request = RecommendationRequest {
            user_id,
            category: category.into(),
            max_results,
        };
        let answer = self.call(request, request_id, self.deadline).await?;
        Ok(answer.recommendations)
    }

    /// The contract's `Recommend` passed through: `request` as it came (any
    /// category number, any `max_results`), with `request_id` as with
    /// [`recommend_with_request_id`](Self::recommend_with_request_id) and the
    /// handle's deadline, or the caller's `deadline` when it is shorter.
    ///
    /// The service's own status comes back as it sent it (code, message and
    /// details), for a caller that speaks gRPC itself. Failures of the
    /// channel (nothing listens, the connection broke) are `UNAVAILABLE`,
    /// and no answer within the deadline is `DEADLINE_EXCEEDED`, each with a
    /// message a reader can act on rather than the transport's details.
    pub async fn forward(
        &self,
        request: RecommendationRequest,
        request_id: Option<&str>,
        deadline: Option<Duration>,
    ) -> Result<RecommendationResponse, tonic::Status> {
        let deadline = deadline.map_or(self.deadline, |asked| asked.min(self.deadline));
        self.call(request, request_id, deadline)
            .await
            .map_err(|error| match error {
                RecommendationsError::Timeout(deadline) => {
                    tonic::Status::deadline_exceeded(format!(
                        "the Recommendations service gave no answer within {} ms",
                        deadline.as_millis()
                    ))
                }
                // tonic gives a status made from a transport error its source;
                // one the service sent has none.
                RecommendationsError::Status(status)
                    if std::error::Error::source(&status).is_some() =>
                {
                    tracing::warn!(%status, "the Recommendations service is unreachable");
                    tonic::Status::unavailable(UNREACHABLE)
                }
                RecommendationsError::Status(status) => tonic::Status::with_details(
                    status.code(),
                    status.message(),
                    status.details().to_vec().into(),
                ),
            })
    }

    /// One call of `Recommend` within `deadline`, counted in the metrics.
    async fn call(
        &self,
        request: RecommendationRequest,
        request_id: Option<&str>,
        deadline: Duration,
    ) -> Result<RecommendationResponse, RecommendationsError> {
        let mut request = tonic::Request::new(request);
        // The grpc-timeout header lets the service give up too; the local
        // timeout also bounds connecting and a service that ignores the header.
        match &self.grpc_timeout {
            Some(timeout) if deadline == self.deadline => {
                request
                    .metadata_mut()
                    .insert(&*GRPC_TIMEOUT_KEY, timeout.clone());
            }
            _ => request.set_timeout(deadline),
        }
        if let Some(mut id) = request_id.and_then(|id| MetadataValue::try_from(id).ok()) {
            // Each call has its own id: kept out of HPACK's table, it costs
            // neither side an insertion and evicts nothing worth keeping.
            id.set_sensitive(true);
            request.metadata_mut().insert(&*REQUEST_ID_KEY, id);
        }
        let mut client = self.client.clone();
        let started = Instant::now();
        let result = tokio::time::timeout(deadline, client.recommend(request))
            .await
            .map_err(|_| RecommendationsError::Timeout(deadline))
            .and_then(|answer| {
                answer.map_err(|status| {
                    // tonic's channel enforces the grpc-timeout it sends too,
                    // and may be the first to notice the deadline pass.
                    if timed_out(&status) {
                        RecommendationsError::Timeout(deadline)
                    } else {
                        status.into()
                    }
                })
            });
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(RecommendationsError::Timeout(_)) => tonic::Code::DeadlineExceeded,
            Err(RecommendationsError::Status(status)) => status.code(),
        };
        self.metrics
            .upstream_call(telemetry::RECOMMEND, code, started.elapsed());
        Ok(result?.into_inner())
    }
}

/// The `grpc-timeout` metadata of a call with `deadline`, as tonic writes it.
fn grpc_timeout(deadline: Duration) -> Option<MetadataValue<Ascii>> {
    let mut probe = tonic::Request::new(());
    probe.set_timeout(deadline);
    probe.metadata().get(&*GRPC_TIMEOUT_KEY).cloned()
}

/// Whether tonic's channel gave up on the call at its deadline.
fn timed_out(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// What a caller of [`Recommendations::forward`] is told when the service
/// cannot be reached.
const UNREACHABLE: &str = "the Recommendations service cannot be reached right now; retry shortly";

/// The URL does not suit, and why.
fn invalid(url: &str, reason: &str) -> InvalidUrl {
    InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}

/// What the error says when the URL has none of the accepted forms.
const EXPECTED_FORMS: &str = "expected http://HOST:PORT, https://HOST:PORT or dns:///HOST:PORT";

/// One lazily connected channel to `http://` or `https://` `url`.
fn single_channel(url: &str, deadline: Duration, tls: &TlsFiles) -> Result<Channel, ConnectError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|error| {
        invalid(
            url,
            &std::error::Error::source(&error)
                .map_or_else(|| error.to_string(), ToString::to_string),
        )
    })?;
    if endpoint.uri().host().is_none() {
        return Err(invalid(url, EXPECTED_FORMS).into());
    }
    // Any other scheme would fail on every call instead of at start.
    let endpoint = match endpoint.uri().scheme_str() {
        Some("http") if tls.is_empty() => endpoint,
        Some("http") => {
            return Err(invalid(
                url,
                "TLS files and names are given, so the URL must start with https://",
            )
            .into());
        }
        Some("https") => tls.apply(endpoint)?,
        _ => return Err(invalid(url, EXPECTED_FORMS).into()),
    };
    Ok(endpoint
        // A refused or unanswered connection must not outlast the page's deadline.
        .connect_timeout(deadline)
        .connect_lazy())
}

/// A channel balanced over the addresses of the `HOST:PORT` `target` of the
/// `dns:///` `url`, each endpoint set up as [`single_channel`] sets up its one.
fn balanced_channel(
    url: &str,
    target: &str,
    deadline: Duration,
    tls: &TlsFiles,
    discovery: Discovery,
) -> Result<Channel, ConnectError> {
    let dns_target = DnsTarget::parse(target).map_err(|reason| invalid(url, reason))?;
    let secure = !tls.is_empty();
    let scheme = if secure { "https" } else { "http" };
    // Calls carry HOST:PORT as their authority, as they would without
    // balancing, whichever address they go to.
    let origin = format!("{scheme}://{target}")
        .parse::<tonic::transport::Uri>()
        .map_err(|error| invalid(url, &error.to_string()))?;
    let tls = TlsFiles {
        server_name: Some(
            tls.server_name
                .clone()
                .unwrap_or_else(|| dns_target.host.clone()),
        ),
        ..tls.clone()
    };
    let endpoint = move |addr: SocketAddr| -> Result<Endpoint, ConnectError> {
        let endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|error| invalid(&addr.to_string(), &error.to_string()))?
            .origin(origin.clone())
            // A refused or unanswered connection must not outlast the page's deadline.
            .connect_timeout(deadline);
        Ok(if secure {
            tls.apply(endpoint)?
        } else {
            endpoint
        })
    };
    // The TLS files are read now too, so that a bad one stops the start.
    endpoint(SocketAddr::from(([127, 0, 0, 1], dns_target.port)))?;
    Ok(discovery::balanced_channel(
        dns_target, discovery, deadline, endpoint,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tonic::Code;

    use super::*;

    #[test]
    fn the_grpc_timeout_is_written_as_tonic_writes_it() {
        for deadline in [Duration::from_secs(2), Duration::from_micros(1)] {
            let mut request = tonic::Request::new(());
            request.set_timeout(deadline);
            assert_eq!(
                grpc_timeout(deadline).as_ref(),
                request.metadata().get("grpc-timeout")
            );
        }
    }

    #[tokio::test]
    async fn a_malformed_url_is_refused_at_start() {
        for url in ["not a url", "localhost:50051", "ftp://localhost:50051", ""] {
            let error = Recommendations::connect_lazy(url, Duration::from_secs(1)).unwrap_err();
            assert!(
                error.to_string().starts_with("invalid Recommendations URL"),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn a_plain_http_url_is_accepted_without_connecting() {
        let service =
            Recommendations::connect_lazy("http://localhost:50051", Duration::from_secs(1));
        assert!(service.is_ok(), "{service:?}");
    }

    #[tokio::test]
    async fn an_https_url_is_accepted_with_or_without_tls_files() {
        let url = "https://localhost:50051";
        Recommendations::connect_lazy(url, Duration::from_secs(1)).unwrap();
        let named = TlsFiles {
            server_name: Some("recommendations".to_owned()),
            ..TlsFiles::default()
        };
        Recommendations::connect_lazy_with_tls(url, Duration::from_secs(1), &named).unwrap();
    }

    #[tokio::test]
    async fn a_dns_url_is_accepted_without_resolving() {
        for url in ["dns:///recommendations:50051", "dns:///[::1]:50051"] {
            let service = Recommendations::connect_lazy(url, Duration::from_secs(1));
            assert!(service.is_ok(), "{url}: {service:?}");
        }
        let named = TlsFiles {
            server_name: Some("recommendations".to_owned()),
            ..TlsFiles::default()
        };
        let url = "dns:///recommendations:50051";
        Recommendations::connect_lazy_with_tls(url, Duration::from_secs(1), &named).unwrap();
    }

    #[tokio::test]
    async fn a_dns_url_needs_a_host_and_a_port() {
        for url in [
            "dns:///recommendations",
            "dns:///",
            "dns://8.8.8.8/recommendations:1",
        ] {
            let error = Recommendations::connect_lazy(url, Duration::from_secs(1)).unwrap_err();
            assert!(
                error.to_string().starts_with("invalid Recommendations URL"),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn tls_files_need_an_https_url() {
        let named = TlsFiles {
            server_name: Some("recommendations".to_owned()),
            ..TlsFiles::default()
        };
        let error = Recommendations::connect_lazy_with_tls(
            "http://localhost:50051",
            Duration::from_secs(1),
            &named,
        )
        .unwrap_err();
        assert!(matches!(error, ConnectError::Url(_)), "{error}");
    }

    #[tokio::test]
    async fn a_service_that_is_not_running_is_unavailable_quickly() {
        let url = format!("http://{}", service_kit::testing::closed_port().await);
        let service = Recommendations::connect_lazy(&url, Duration::from_secs(5)).unwrap();
        let started = Instant::now();
        let error = service
            .recommend(1, BookCategory::Mystery, 3)
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        match error {
            RecommendationsError::Status(status) => assert_eq!(status.code(), Code::Unavailable),
            RecommendationsError::Timeout(_) => panic!("a refused connection timed out"),
        }
    }

    #[tokio::test]
    async fn a_service_that_never_answers_times_out_at_the_deadline() {
        // Bound but never accepting: connections sit in the backlog unanswered.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let deadline = Duration::from_millis(300);
        let service = Recommendations::connect_lazy(&url, deadline).unwrap();
        let started = Instant::now();
        let result = service.recommend(1, BookCategory::Mystery, 3).await;
        let elapsed = started.elapsed();
        assert!(result.is_err(), "a silent service gave books");
        assert!(elapsed >= deadline / 2, "gave up after only {elapsed:?}");
        assert!(elapsed < deadline * 4, "took {elapsed:?}");
    }
}
