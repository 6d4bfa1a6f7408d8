use std::convert::Infallible;
use std::num::NonZeroUsize;

use axum::error_handling::HandleErrorLayer;
use axum::response::IntoResponse;
use http::{Request, Response};
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::LayerExt;
use tower::{BoxError, Service, ServiceBuilder};

use crate::metrics::Metrics;

/// `service` with at most `limit` calls running at once over all connections;
/// a call beyond that is answered `UNAVAILABLE` at once instead of waiting.
///
/// tower's `ConcurrencyLimit` holds one permit per running call (its clones,
/// one per request, share the semaphore) and `LoadShed` turns "no permit free"
/// into an immediate error rather than a queue. Only the service wrapped here
/// is limited: health and reflection stay answerable under load, for probes.
///
/// axum's `HandleErrorLayer` turns the shedding error into that status, as
/// tonic's routes need a service that never fails.
///
/// `UNAVAILABLE` rather than tonic's own `RESOURCE_EXHAUSTED` ("Too many active
/// requests for the connection", which would name the wrong cause): the
/// condition is transient and server-wide, gRPC retry policies retry
/// `UNAVAILABLE`, and the marketplaces already answer it with a 503.
pub fn limit_concurrency<S>(
    service: S,
    limit: NonZeroUsize,
    metrics: Option<Metrics>,
) -> impl Service<Request<Body>, Response: IntoResponse, Error = Infallible, Future: Send + 'static>
+ NamedService
+ Clone
+ Send
+ Sync
+ 'static
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let limit = limit.get();
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(move |_overloaded: BoxError| {
            // The wrapped service is infallible: only shedding errs here.
            if let Some(metrics) = &metrics {
                metrics.shed(S::NAME);
            }
            tracing::debug!("shed: the concurrent call limit is reached");
            let status = Status::unavailable(format!(
                "the server is at its limit of {limit} concurrent calls; retry with backoff"
            ));
            std::future::ready(status.into_http::<Body>())
        }))
        .load_shed()
        .concurrency_limit(limit)
        .named_layer(service)
}
